//! A service that starts from a snapshot on disk and keeps it fresh from a Flipt server.
//!
//! The client persists every snapshot the server sends to a cache file (`persist_path`), and
//! the next start serves that file at once, even with the server down (`fallback` strategy).
//! On the very first start, before any cache exists, the bundled snapshot seeds the client.
//! The bundled file is only read, never written.
//!
//! ```text
//! cargo run --example from_disk -- [--seed examples/data/snapshot.json] [--cache PATH]
//!                                  [--url http://localhost:8080] [--seconds 5]
//! ```
//!
//! The cache defaults to `flipt-client-example/flags.json` in the system's temporary
//! directory; any program can load it with `FliptClient::from_snapshot_file` or the
//! `evaluate` example's `--snapshot`.

use flipt_client::{ClientOptions, ErrorStrategy, FliptClient, Snapshot};
use std::path::PathBuf;
use std::time::Duration;

const USAGE: &str = "usage: from_disk [--seed FILE] [--cache PATH] [--url URL] [--seconds N]

  --seed FILE     snapshot used when no cache exists yet (default examples/data/snapshot.json)
  --cache PATH    where the client persists each snapshot from the server
                  (default: flipt-client-example/flags.json in the temporary directory)
  --url URL       the Flipt server (default http://localhost:8080)
  --seconds N     how long to run, evaluating once a second (default 5)";

fn arg(name: &str) -> Option<String> {
    let mut it = std::env::args();
    while let Some(a) = it.next() {
        if a == name {
            return it.next();
        }
    }
    None
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    let seed_file = arg("--seed").unwrap_or_else(|| "examples/data/snapshot.json".into());
    let cache = arg("--cache").map_or_else(
        || {
            std::env::temp_dir()
                .join("flipt-client-example")
                .join("flags.json")
        },
        PathBuf::from,
    );
    let url = arg("--url").unwrap_or_else(|| "http://localhost:8080".into());
    let seconds: u64 = arg("--seconds").unwrap_or_else(|| "5".into()).parse()?;

    // 1. The bundled snapshot (a server document, engine JSON, base64 seed or cache file).
    let seed = Snapshot::parse_bytes(&std::fs::read(&seed_file)?)?;
    println!(
        "seed: {} flags of namespace {:?} from {seed_file}",
        seed.len(),
        seed.namespace()
    );
    println!("cache: {}", cache.display());

    // 2. A client that starts from the cache when there is one, else from the seed; a server
    //    that cannot be reached is logged, not fatal. Every snapshot from the server is
    //    written to the cache (the directory is created if missing).
    let client = FliptClient::new(
        ClientOptions::new()
            .url(url)
            .namespace(seed.namespace())
            .snapshot(seed.to_base64())
            .persist_path(&cache)
            .error_strategy(ErrorStrategy::Fallback)
            .update_interval(Duration::from_secs(1))
            .retry_backoff(Duration::from_millis(100)),
    )?;
    println!("started from the {:?} snapshot", client.health().source);

    // 3. Serve requests.
    for _ in 0..seconds {
        let health = client.health();
        match client.evaluate_boolean("new-search", "user-5", &()) {
            Ok(r) => println!(
                "new-search for user-5: {} ({:?} snapshot, {:.0} s old{})",
                r.is_enabled(),
                health.source,
                health.snapshot_age().as_secs_f64(),
                match &health.last_error {
                    Some(last) => format!("; last update failed: {}", last.error),
                    None => String::new(),
                }
            ),
            Err(e) => println!("new-search: {e}"),
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    client.close();
    if cache.exists() {
        println!("the cache holds the latest snapshot: {}", cache.display());
    }
    Ok(())
}
