//! A service that starts from a snapshot on disk and keeps it fresh from a Flipt server.
//!
//! At startup the file seeds the client, so it answers at once even if the server is down
//! (`fallback` strategy); each snapshot the server sends is written back to the file, so the
//! next start has the latest flags.
//!
//! ```text
//! cargo run --example from_disk -- [--file examples/data/snapshot.json] [--url http://localhost:8080] [--seconds 5]
//! ```

use flipt_client::{ClientOptions, ErrorStrategy, FliptClient, Snapshot};
use std::time::Duration;

fn arg(name: &str, default: &str) -> String {
    let mut it = std::env::args();
    while let Some(a) = it.next() {
        if a == name {
            return it.next().unwrap_or_default();
        }
    }
    default.to_string()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = arg("--file", "examples/data/snapshot.json");
    let url = arg("--url", "http://localhost:8080");
    let seconds: u64 = arg("--seconds", "5").parse()?;

    // 1. The snapshot on disk (a server document, engine JSON or base64 seed).
    let seed = Snapshot::parse_bytes(&std::fs::read(&file)?)?;
    println!(
        "loaded {} flags of namespace {:?} from {file}",
        seed.len(),
        seed.namespace()
    );

    // 2. A client seeded with it; a server that cannot be reached is logged, not fatal.
    let client = FliptClient::new(
        ClientOptions::new()
            .url(url)
            .namespace(seed.namespace())
            .snapshot(seed.to_base64())
            .error_strategy(ErrorStrategy::Fallback)
            .update_interval(Duration::from_secs(1))
            .retry_backoff(Duration::from_millis(100)),
    )?;

    // 3. Serve requests; save each new snapshot so the next start is up to date.
    let mut saved = client.generation();
    for _ in 0..seconds {
        let health = client.health();
        match client.evaluate_boolean("new-search", "user-5", &()) {
            Ok(r) => println!(
                "new-search for user-5: {} ({:?} snapshot, {:.0} s old)",
                r.is_enabled(),
                health.source,
                health.snapshot_age().as_secs_f64()
            ),
            Err(e) => println!("new-search: {e}"),
        }
        if client.generation() != saved {
            let tmp = format!("{file}.tmp");
            std::fs::write(&tmp, client.get_snapshot()?)?;
            std::fs::rename(&tmp, &file)?;
            saved = client.generation();
            println!("saved the new snapshot to {file}");
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    client.close();
    Ok(())
}
