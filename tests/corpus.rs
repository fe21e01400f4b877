//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz targets' checks on
//! stable Rust, so every `cargo test` exercises what the fuzzers found interesting.

use flipt_client::fuzzing;
use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        if let Err(panic) = std::panic::catch_unwind(|| check(&data)) {
            let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            panic!("{target}: {} fails: {msg}", path.display());
        }
        n += 1;
    }
    assert!(n > 0, "empty corpus for {target}");
}

#[test]
fn document_corpus() {
    replay("document", fuzzing::check_document);
}

#[test]
fn seed_corpus() {
    replay("seed", fuzzing::check_seed);
}

#[cfg(feature = "net")]
#[test]
fn framer_corpus() {
    replay("framer", fuzzing::check_framer);
}

#[test]
fn evaluate_corpus() {
    replay("evaluate", fuzzing::check_evaluation);
}
