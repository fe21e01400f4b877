//! Benchmark: snapshot parse + compile, and evaluation cost, allocations and memory.
//!
//! ```text
//! python3 examples/gen_workload.py /tmp/wl
//! cargo run --release --example bench -- --snapshot /tmp/wl/snapshot.json --requests /tmp/wl/requests.jsonl
//! ```
//!
//! Evaluations run through the public `FliptClient` API (lock + `Arc` clone included) with
//! each request's context as a slice of `(key, value)` pairs; the `HashMap` figure is printed
//! too. Every pass asks the same requests in the same order unless `--shuffle` is given;
//! `--show-passes` prints each pass's figure; `--repeat N` asks each request N times in a
//! row (a diagnostic: caches and branch predictors warm to the request).
//!
//! `--threads N` (default 2) also runs the whole workload on 1 and on N threads at once,
//! through one shared `FliptClient` and through a `Reader` per thread, and prints the
//! throughput of each path and its scaling (N-thread over 1-thread throughput).
//!
//! The last line is machine-readable: `bench: variant_ns=N boolean_ns=N allocs_per_eval=N
//! parse_ms=N parse_mb_per_s=N peak_rss_kb=N ... variant_reader_ns=N boolean_reader_ns=N
//! scaling_client_2t=X scaling_reader_2t=X`.

use flipt_client::{FliptClient, Snapshot};
use serde_json::Value;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

#[path = "support/counting.rs"]
mod counting;
use counting::allocations_so_far;

/// Counts the allocations of the thread that evaluates (not those of a poller thread).
#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

/// One request; its strings live in one shared arena so that a pass over the requests reads
/// memory in order, as a real caller's hot data would be, rather than chasing thousands of
/// cold heap allocations (which measured the cache, not the evaluator).
struct Request<'a> {
    boolean: bool,
    flag: &'a str,
    entity: &'a str,
    pairs: &'a [(&'a str, &'a str)],
    map: HashMap<String, String>,
    /// A handle for this request's flag, as a hot loop would keep one.
    handle: flipt_client::FlagHandle,
}

fn arg(name: &str) -> Option<String> {
    let mut it = std::env::args();
    while let Some(a) = it.next() {
        if a == name {
            return it.next();
        }
    }
    None
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// `--shuffle`: every pass asks the requests in a new order. Repeating one order lets the
/// branch predictors learn part of the sequence over the passes; a new order leaves nothing
/// to learn (and reads the requests' own data out of order).
static SHUFFLE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--repeat N`: each request is asked N times in a row. From the second time on its data is
/// in cache, and from about the fourth the branch predictors know its path, so a large N
/// approaches what the instructions alone cost.
static REPEAT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// Median over `passes` of the mean ns per evaluation of `reqs`, and the allocations made by
/// the evaluations themselves. `--show-passes` prints every pass's figure.
fn time_passes(
    passes: usize,
    reqs: &[&Request<'_>],
    mut eval: impl FnMut(&Request<'_>) -> bool,
) -> (f64, u64) {
    let mut per_pass = Vec::with_capacity(passes);
    let mut allocs = 0;
    let mut order = reqs.to_vec();
    let mut seed = 0x2545_F491_4F6C_DD1D_u64;
    for _ in 0..passes {
        if SHUFFLE.load(std::sync::atomic::Ordering::Relaxed) {
            // Fisher-Yates with a xorshift generator: the same orders on every run.
            for i in (1..order.len()).rev() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                order.swap(i, (seed % (i as u64 + 1)) as usize);
            }
        }
        let reqs = &order;
        let before = allocations_so_far();
        let repeat = REPEAT.load(std::sync::atomic::Ordering::Relaxed).max(1);
        let start = Instant::now();
        if repeat == 1 {
            for r in reqs {
                black_box(eval(r));
            }
        } else {
            for r in reqs {
                for _ in 0..repeat {
                    black_box(eval(r));
                }
            }
        }
        let elapsed = start.elapsed();
        allocs += allocations_so_far() - before;
        per_pass.push(elapsed.as_nanos() as f64 / (reqs.len() * repeat).max(1) as f64);
    }
    if std::env::args().any(|a| a == "--show-passes") {
        let ns: Vec<String> = per_pass.iter().map(|p| format!("{p:.0}")).collect();
        println!("  passes (ns/eval): {}", ns.join(" "));
    }
    (median(per_pass), allocs)
}

/// Serves `body` with a new ETag on every request, on a background thread; returns its URL.
/// Every other answer has a trailing space: the client installs a body only when its bytes
/// differ from the last one.
fn serve_snapshot(body: String) -> Option<String> {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
    let url = format!("http://{}", listener.local_addr().ok()?);
    std::thread::spawn(move || {
        let mut n = 0u64;
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line == "\r\n" => {
                        n += 1;
                        let pad = if n % 2 == 0 { " " } else { "" };
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nETag: {n}\r\nContent-Length: {}\r\n\r\n",
                            body.len() + pad.len()
                        );
                        let w = reader.get_mut();
                        if w.write_all(head.as_bytes())
                            .and_then(|()| w.write_all(body.as_bytes()))
                            .and_then(|()| w.write_all(pad.as_bytes()))
                            .is_err()
                        {
                            break;
                        }
                    }
                    Ok(_) => {}
                }
            }
        }
    });
    Some(url)
}

/// One request, in a form every thread can read.
#[derive(Clone, Copy)]
struct Item<'a> {
    boolean: bool,
    flag: &'a str,
    entity: &'a str,
    pairs: &'a [(&'a str, &'a str)],
}

/// Rounds over the workload each thread makes in one throughput measurement.
const ROUNDS: usize = 20;

/// Evaluations per second of `threads` threads that each run `run` (which evaluates the
/// whole workload [`ROUNDS`] times and returns how many evaluations it made), started
/// together; the median of 5 measurements.
fn throughput(threads: usize, run: &(dyn Fn() -> u64 + Sync)) -> f64 {
    let mut rates = Vec::new();
    for _ in 0..5 {
        let barrier = std::sync::Barrier::new(threads + 1);
        let (total, elapsed) = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        barrier.wait();
                        run()
                    })
                })
                .collect();
            barrier.wait();
            let start = Instant::now();
            let total: u64 = workers.into_iter().map(|w| w.join().unwrap_or(0)).sum();
            (total, start.elapsed())
        });
        rates.push(total as f64 / elapsed.as_secs_f64());
    }
    median(rates)
}

/// Throughput on 1 and on `threads` threads through one shared client and through a reader
/// per thread: `(client_1, client_n, reader_1, reader_n)` in evaluations per second.
fn scaling(client: &FliptClient, work: &[Item<'_>], threads: usize) -> (f64, f64, f64, f64) {
    let by_client = || {
        let mut n = 0u64;
        for _ in 0..ROUNDS {
            for it in work {
                let ok = if it.boolean {
                    client
                        .evaluate_boolean(it.flag, it.entity, it.pairs)
                        .is_ok()
                } else {
                    client
                        .evaluate_variant(it.flag, it.entity, it.pairs)
                        .is_ok()
                };
                n += u64::from(black_box(ok));
            }
        }
        n
    };
    let by_reader = || {
        let mut reader = client.reader();
        let mut n = 0u64;
        for _ in 0..ROUNDS {
            for it in work {
                let ok = if it.boolean {
                    reader
                        .evaluate_boolean(it.flag, it.entity, it.pairs)
                        .is_ok()
                } else {
                    reader
                        .evaluate_variant(it.flag, it.entity, it.pairs)
                        .is_ok()
                };
                n += u64::from(black_box(ok));
            }
        }
        n
    };
    (
        throughput(1, &by_client),
        throughput(threads, &by_client),
        throughput(1, &by_reader),
        throughput(threads, &by_reader),
    )
}

const USAGE: &str = "usage: bench --snapshot FILE --requests FILE.jsonl [--passes N] [--shuffle] [--repeat N] [--show-passes] [--threads N]";

fn main() {
    if std::env::args().skip(1).any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return;
    }
    let (Some(snapshot_path), Some(requests_path)) = (arg("--snapshot"), arg("--requests")) else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let passes: usize = arg("--passes").and_then(|p| p.parse().ok()).unwrap_or(15);
    let shuffle = std::env::args().any(|a| a == "--shuffle");
    SHUFFLE.store(shuffle, std::sync::atomic::Ordering::Relaxed);
    let repeat: usize = arg("--repeat").and_then(|n| n.parse().ok()).unwrap_or(1);
    REPEAT.store(repeat.max(1), std::sync::atomic::Ordering::Relaxed);
    let text = std::fs::read_to_string(&snapshot_path).expect("read snapshot");

    // Parse + compile, best and median of several runs.
    let mut parse_ms = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        let s = Snapshot::parse(&text).expect("snapshot parses");
        parse_ms.push(start.elapsed().as_secs_f64() * 1e3);
        black_box(s);
    }
    let parse = median(parse_ms);
    let mb_per_s = text.len() as f64 / 1e6 / (parse / 1e3);
    let snapshot = Snapshot::parse(&text).expect("snapshot parses");
    println!(
        "snapshot: {} flags, {:.2} MB, parse+compile median {:.2} ms = {:.0} MB/s",
        snapshot.len(),
        text.len() as f64 / 1e6,
        parse,
        mb_per_s
    );
    let client = FliptClient::from_snapshot(snapshot);

    let parsed: Vec<Value> = std::fs::read_to_string(&requests_path)
        .expect("read requests")
        .lines()
        .map(|line| serde_json::from_str(line).expect("request JSON"))
        .collect();
    // Lay all strings out in one arena, request after request.
    let mut arena = String::new();
    let mut spans = Vec::new();
    let push = |arena: &mut String, s: &str| {
        let start = arena.len();
        arena.push_str(s);
        (start, arena.len())
    };
    for v in &parsed {
        let flag = push(&mut arena, v["flag_key"].as_str().unwrap_or_default());
        let entity = push(&mut arena, v["entity_id"].as_str().unwrap_or_default());
        let ctx: Vec<_> = v["context"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((push(&mut arena, k), push(&mut arena, v.as_str()?))))
                    .collect()
            })
            .unwrap_or_default();
        spans.push((flag, entity, ctx));
    }
    let text_of = |(a, b): (usize, usize)| &arena[a..b];
    let mut all_pairs: Vec<(&str, &str)> = Vec::new();
    let mut pair_ranges = Vec::new();
    for (_, _, ctx) in &spans {
        let start = all_pairs.len();
        all_pairs.extend(ctx.iter().map(|&(k, v)| (text_of(k), text_of(v))));
        pair_ranges.push(start..all_pairs.len());
    }
    let requests: Vec<Request> = parsed
        .iter()
        .zip(&spans)
        .zip(pair_ranges)
        .map(|((v, (flag, entity, _)), range)| {
            let pairs = &all_pairs[range];
            Request {
                boolean: v["type"] == "boolean",
                flag: text_of(*flag),
                entity: text_of(*entity),
                pairs,
                map: pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                handle: client.flag(text_of(*flag)),
            }
        })
        .collect();
    let variants: Vec<&Request> = requests.iter().filter(|r| !r.boolean).collect();
    let booleans: Vec<&Request> = requests.iter().filter(|r| r.boolean).collect();
    println!(
        "requests: {} variant, {} boolean, {passes} passes",
        variants.len(),
        booleans.len()
    );

    let variant = |r: &Request<'_>| client.evaluate_variant(r.flag, r.entity, r.pairs).is_ok();
    let boolean = |r: &Request<'_>| client.evaluate_boolean(r.flag, r.entity, r.pairs).is_ok();
    // Warm up, and count failures (there should be none on the generated workload).
    let failures = variants.iter().filter(|r| !variant(r)).count()
        + booleans.iter().filter(|r| !boolean(r)).count();

    let (variant_ns, variant_allocs) = time_passes(passes, &variants, variant);
    let (boolean_ns, boolean_allocs) = time_passes(passes, &booleans, boolean);
    let allocs = variant_allocs + boolean_allocs;
    let evals = (passes * requests.len() * repeat.max(1)) as u64;
    let allocs_per_eval = allocs as f64 / evals as f64;

    let (variant_map_ns, _) = time_passes(passes, &variants, |r| {
        client.evaluate_variant(r.flag, r.entity, &r.map).is_ok()
    });
    let (boolean_map_ns, _) = time_passes(passes, &booleans, |r| {
        client.evaluate_boolean(r.flag, r.entity, &r.map).is_ok()
    });
    let snap = client.snapshot();
    let (variant_direct_ns, _) = time_passes(passes, &variants, |r| {
        snap.evaluate_variant(r.flag, r.entity, r.pairs).is_ok()
    });

    // By flag handle (made before timing; the warm-up pass resolves each once).
    for r in &requests {
        let _ = if r.boolean {
            r.handle.evaluate_boolean(r.entity, r.pairs).is_ok()
        } else {
            r.handle.evaluate_variant(r.entity, r.pairs).is_ok()
        };
    }
    // Through a reader of this thread.
    let mut reader = client.reader();
    let (variant_reader_ns, reader_allocs) = time_passes(passes, &variants, |r| {
        reader.evaluate_variant(r.flag, r.entity, r.pairs).is_ok()
    });
    let (boolean_reader_ns, reader_allocs_b) = time_passes(passes, &booleans, |r| {
        reader.evaluate_boolean(r.flag, r.entity, r.pairs).is_ok()
    });
    println!(
        "by reader: variant {variant_reader_ns:.1} ns/eval, boolean {boolean_reader_ns:.1} ns/eval ({} allocations)",
        reader_allocs + reader_allocs_b
    );

    let (variant_handle_ns, handle_allocs) = time_passes(passes, &variants, |r| {
        r.handle.evaluate_variant(r.entity, r.pairs).is_ok()
    });
    let (boolean_handle_ns, handle_allocs_b) = time_passes(passes, &booleans, |r| {
        r.handle.evaluate_boolean(r.entity, r.pairs).is_ok()
    });
    println!(
        "by handle: variant {variant_handle_ns:.1} ns/eval, boolean {boolean_handle_ns:.1} ns/eval ({} allocations); by key: variant {variant_ns:.1}, boolean {boolean_ns:.1}",
        handle_allocs + handle_allocs_b
    );
    // The fast paths side by side, in one run: by key, by handle, through a reader, a handle
    // through a reader; for many flags (the workload) and for one flag asked again and again
    // (a frame loop: the same request every time).
    let one_variant: Vec<&Request<'_>> = vec![variants[0]; variants.len()];
    let one_boolean: Vec<&Request<'_>> = vec![booleans[0]; booleans.len()];
    println!("fast paths, median ns per evaluation:");
    println!("| flags | kind | by key | handle | reader | handle through reader |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut path_allocs = 0;
    for (label, v, b) in [
        ("many", &variants, &booleans),
        ("one", &one_variant, &one_boolean),
    ] {
        let mut row = |kind: &str, figures: [(f64, u64); 4]| {
            path_allocs += figures.iter().map(|f| f.1).sum::<u64>();
            println!(
                "| {label} | {kind} | {:.1} | {:.1} | {:.1} | {:.1} |",
                figures[0].0, figures[1].0, figures[2].0, figures[3].0
            );
        };
        let variant_figures = [
            time_passes(passes, v, |r| {
                client.evaluate_variant(r.flag, r.entity, r.pairs).is_ok()
            }),
            time_passes(passes, v, |r| {
                r.handle.evaluate_variant(r.entity, r.pairs).is_ok()
            }),
            time_passes(passes, v, |r| {
                reader.evaluate_variant(r.flag, r.entity, r.pairs).is_ok()
            }),
            time_passes(passes, v, |r| {
                r.handle
                    .evaluate_variant_with(&mut reader, r.entity, r.pairs)
                    .is_ok()
            }),
        ];
        row("variant", variant_figures);
        let boolean_figures = [
            time_passes(passes, b, |r| {
                client.evaluate_boolean(r.flag, r.entity, r.pairs).is_ok()
            }),
            time_passes(passes, b, |r| {
                r.handle.evaluate_boolean(r.entity, r.pairs).is_ok()
            }),
            time_passes(passes, b, |r| {
                reader.evaluate_boolean(r.flag, r.entity, r.pairs).is_ok()
            }),
            time_passes(passes, b, |r| {
                r.handle
                    .evaluate_boolean_with(&mut reader, r.entity, r.pairs)
                    .is_ok()
            }),
        ];
        row("boolean", boolean_figures);
    }
    println!("fast paths: {path_allocs} allocations");
    println!("variant:  median {variant_ns:.1} ns/eval (pairs), {variant_map_ns:.1} ns/eval (HashMap), {variant_direct_ns:.1} ns/eval (snapshot, no lock)");
    println!(
        "boolean:  median {boolean_ns:.1} ns/eval (pairs), {boolean_map_ns:.1} ns/eval (HashMap)"
    );
    println!("allocations: {allocs} in {evals} evaluations ({allocs_per_eval} per evaluation), {failures} failed requests");
    let rss = peak_rss_kb();
    println!("peak RSS: {rss} kB");

    // The same evaluations through a client whose poller swaps in a fresh copy of the
    // snapshot every 10 ms (asked for with refresh()), served by a minimal HTTP server on
    // 127.0.0.1.
    if let Some(url) = serve_snapshot(text.clone()) {
        let live =
            FliptClient::new(flipt_client::ClientOptions::new().url(url)).expect("live client");
        let refreshing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let refresher = {
            let (live, refreshing) = (live.clone(), refreshing.clone());
            std::thread::spawn(move || {
                while refreshing.load(std::sync::atomic::Ordering::Relaxed) {
                    live.refresh();
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            })
        };
        let start_gen = live.generation();
        let live_passes = passes * 10;
        let (live_variant_ns, live_variant_allocs) = time_passes(live_passes, &variants, |r| {
            live.evaluate_variant(r.flag, r.entity, r.pairs).is_ok()
        });
        let (live_boolean_ns, live_boolean_allocs) = time_passes(live_passes, &booleans, |r| {
            live.evaluate_boolean(r.flag, r.entity, r.pairs).is_ok()
        });
        let swaps = live.generation() - start_gen;
        refreshing.store(false, std::sync::atomic::Ordering::Relaxed);
        let _ = refresher.join();
        live.close();
        println!(
            "live poller ({swaps} swaps during {live_passes} passes): variant {live_variant_ns:.1} ns/eval, boolean {live_boolean_ns:.1} ns/eval, {} allocations by the evaluating thread",
            live_variant_allocs + live_boolean_allocs
        );
    }
    // Scaling across threads: the whole workload, in request order.
    let threads: usize = arg("--threads")
        .and_then(|n| n.parse().ok())
        .unwrap_or(2)
        .max(1);
    let work: Vec<Item> = requests
        .iter()
        .map(|r| Item {
            boolean: r.boolean,
            flag: r.flag,
            entity: r.entity,
            pairs: r.pairs,
        })
        .collect();
    let mega = |rate: f64| rate / 1e6;
    let mut scaling_line = String::new();
    let mut counts = vec![2, threads];
    counts.dedup();
    for n in counts {
        let (c1, cn, r1, rn) = scaling(&client, &work, n);
        println!(
            "{n} threads: shared client {:.2} M evals/s on 1 thread, {:.2} M/s on {n} (x{:.2}); reader per thread {:.2} M/s on 1, {:.2} M/s on {n} (x{:.2})",
            mega(c1), mega(cn), cn / c1, mega(r1), mega(rn), rn / r1
        );
        scaling_line.push_str(&format!(
            " scaling_client_{n}t={:.2} scaling_reader_{n}t={:.2}",
            cn / c1,
            rn / r1
        ));
    }
    println!(
        "bench: variant_ns={variant_ns:.0} boolean_ns={boolean_ns:.0} allocs_per_eval={allocs_per_eval} parse_ms={parse:.2} parse_mb_per_s={mb_per_s:.0} peak_rss_kb={rss} variant_handle_ns={variant_handle_ns:.0} boolean_handle_ns={boolean_handle_ns:.0} variant_reader_ns={variant_reader_ns:.0} boolean_reader_ns={boolean_reader_ns:.0}{scaling_line}"
    );
}
