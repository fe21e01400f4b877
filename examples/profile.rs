//! Evaluates every request of a benchmark workload once, variant and boolean requests in two
//! functions of their own, so that an instruction-counting profiler can measure exactly one
//! kind of evaluation (timings are noisy on a shared machine; instruction counts are not):
//!
//! ```text
//! python3 examples/gen_workload.py /tmp/wl
//! cargo build --release --example profile
//! valgrind --tool=callgrind --toggle-collect='*evaluate_variants*' \
//!     target/release/examples/profile /tmp/wl/snapshot.json /tmp/wl/requests.jsonl
//! ```
//!
//! callgrind's total divided by the printed number of variant requests is the instructions
//! per evaluation (use `*evaluate_booleans*` for the boolean ones).

use flipt_client::FliptClient;
use serde_json::Value;
use std::hint::black_box;

/// A request: flag key, entity id, context.
type Request<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);

#[inline(never)]
fn evaluate_variants(client: &FliptClient, requests: &[Request<'_>]) -> usize {
    requests
        .iter()
        .filter(|(flag, entity, ctx)| client.evaluate_variant(flag, entity, ctx).is_ok())
        .count()
}

#[inline(never)]
fn evaluate_booleans(client: &FliptClient, requests: &[Request<'_>]) -> usize {
    requests
        .iter()
        .filter(|(flag, entity, ctx)| client.evaluate_boolean(flag, entity, ctx).is_ok())
        .count()
}

const USAGE: &str = "usage: profile SNAPSHOT REQUESTS.jsonl

Evaluates every request of the workload once (variant and boolean requests in functions of
their own, for callgrind's --toggle-collect) and prints how many of each it ran.";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().skip(1).any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return;
    }
    let (Some(snapshot), Some(requests)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: profile SNAPSHOT REQUESTS.jsonl");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(snapshot).expect("read snapshot");
    let client = FliptClient::from_snapshot_json(&text).expect("snapshot loads");
    let lines: Vec<Value> = std::fs::read_to_string(requests)
        .expect("read requests")
        .lines()
        .map(|line| serde_json::from_str(line).expect("request JSON"))
        .collect();
    let (mut variants, mut booleans): (Vec<Request>, Vec<Request>) = (Vec::new(), Vec::new());
    for line in &lines {
        let ctx = line["context"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
            .collect();
        let request = (
            line["flag_key"].as_str().unwrap_or_default(),
            line["entity_id"].as_str().unwrap_or_default(),
            ctx,
        );
        if line["type"] == "boolean" {
            booleans.push(request);
        } else {
            variants.push(request);
        }
    }
    let ok = black_box(evaluate_variants(&client, &variants))
        + black_box(evaluate_booleans(&client, &booleans));
    println!(
        "{} variant and {} boolean requests, {ok} evaluated without error",
        variants.len(),
        booleans.len()
    );
}
