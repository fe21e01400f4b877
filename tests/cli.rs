//! The `evaluate` example answers every conformance request, fed as JSON lines, with exactly
//! the official engine's envelope; and its human-readable mode works on the bundled snapshot.

#![cfg(feature = "net")]

mod support;

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};
use support::vectors;

fn run(name: &str) -> Command {
    support::example_command(name)
}

#[test]
fn request_lines_reproduce_the_vectors() {
    let tmp = std::env::temp_dir().join(format!("flipt-cli-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for (name, file) in vectors::files() {
        let snapshot_path = tmp.join(&name);
        std::fs::write(&snapshot_path, file["snapshot"].to_string()).unwrap();
        let cases = file["cases"].as_array().unwrap();
        let mut input = String::new();
        for case in cases {
            let mut line = case["request"].clone();
            line["type"] = case["type"].clone();
            input.push_str(&line.to_string());
            input.push('\n');
        }
        let mut child = run("evaluate")
            .args(["--snapshot", snapshot_path.to_str().unwrap(), "--namespace"])
            .arg(file["namespace"].as_str().unwrap())
            .args(["--requests", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.len(),
            cases.len(),
            "{name}: one output line per request"
        );
        for (case, line) in cases.iter().zip(lines) {
            if let Err(e) = vectors::check(case, line) {
                panic!("{name} / {}: {e}", case["name"]);
            }
        }
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn readable_mode_on_the_bundled_snapshot() {
    let out = run("evaluate")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "--snapshot",
            "examples/data/snapshot.json",
            "--flag",
            "checkout-theme",
            "--entity",
            "user-1",
        ])
        .args(["--context", "plan=pro", "--context", "age=30"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("variant     blue"), "{text}");
    assert!(text.contains("segments    pro-users"), "{text}");

    let out = run("evaluate")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "--snapshot",
            "examples/data/snapshot.json",
            "--flag",
            "nope",
            "--entity",
            "u",
            "--json",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["error_message"],
        "invalid request: failed to get flag information default/nope"
    );
}

#[test]
fn bad_arguments_and_files_fail_cleanly() {
    let out = run("evaluate").arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = run("evaluate")
        .args([
            "--snapshot",
            "/nonexistent.json",
            "--flag",
            "x",
            "--entity",
            "y",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn evaluates_against_a_live_server() {
    use support::server::{doc, FakeServer, Reply};
    let server = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e"));
    let out = run("evaluate")
        .args([
            "--url",
            &server.url(),
            "--client-token",
            "tok",
            "--flag",
            "f",
            "--entity",
            "u",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["result"]["enabled"], true);
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Bearer tok")
    );

    // An unreachable server with a snapshot file falls back to the file.
    drop(server);
    let out = run("evaluate")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "--url",
            "http://127.0.0.1:9",
            "--snapshot",
            "examples/data/snapshot.json",
        ])
        .args(["--flag", "new-search", "--entity", "user-5"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("enabled     true") && text.contains("Seed"),
        "{text}"
    );
}

#[test]
fn from_disk_persists_to_its_cache_and_never_writes_the_bundled_snapshot() {
    use support::server::{doc_with, refused_url, FakeServer, Reply};
    let bundled = std::fs::read("examples/data/snapshot.json").unwrap();
    let dir = std::env::temp_dir().join(format!("flipt-from-disk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // A directory that does not exist yet: the client creates it.
    let cache = dir.join("cache").join("flags.json");
    let server =
        FakeServer::start(|_| Reply::snapshot(&doc_with("default", &[("new-search", false)]), "e"));
    let out = run("from_disk")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--url", &server.url(), "--seconds", "2", "--cache"])
        .arg(&cache)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("cache: {}", cache.display())),
        "{text}"
    );
    assert!(text.contains("new-search for user-5: false"), "{text}");
    assert_eq!(
        std::fs::read("examples/data/snapshot.json").unwrap(),
        bundled,
        "the tracked file is untouched"
    );
    // The cache is a snapshot file any program loads.
    let cached = flipt_client::FliptClient::from_snapshot_file(&cache).unwrap();
    assert!(!cached
        .evaluate_boolean("new-search", "user-5", &())
        .unwrap()
        .is_enabled());

    let out = run("evaluate")
        .arg("--snapshot")
        .arg(&cache)
        .args(["--flag", "new-search", "--entity", "user-5"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("enabled     false"), "{text}");

    // With the server gone, the next start serves the cache.
    let out = run("from_disk")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--url", &refused_url(), "--seconds", "1", "--cache"])
        .arg(&cache)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("started from the Persisted snapshot"),
        "{text}"
    );
    assert!(text.contains("new-search for user-5: false"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_example_answers_help_and_exits_0() {
    for name in [
        "basic",
        "bench",
        "evaluate",
        "from_disk",
        "game_loop",
        "profile",
    ] {
        for flag in ["--help", "-h"] {
            let out = run(name).arg(flag).output().unwrap();
            assert!(out.status.success(), "{name} {flag}: {:?}", out.status);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.starts_with(&format!("usage: {name}")),
                "{name} {flag}: {text}"
            );
        }
    }
}

#[test]
fn evaluate_prints_what_the_engine_does_not_know() {
    let dir = std::env::temp_dir().join(format!("flipt-cli-warn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("flags.json");
    std::fs::write(
        &path,
        r#"{"namespace":{"key":"default"},"flags":[{"key":"s","name":"","enabled":true,"type":"STRING_FLAG_TYPE","rules":[]}]}"#,
    )
    .unwrap();
    let out = run("evaluate")
        .arg("--snapshot")
        .arg(&path)
        .args(["--flag", "s", "--entity", "u"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"warning: "#) && stderr.contains(r#"flags[0].type: unknown flag type "STRING_FLAG_TYPE", evaluated as a variant flag"#),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
