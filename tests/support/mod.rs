//! Helpers shared by the integration tests.

pub mod proxy;
pub mod server;
pub mod vectors;

use std::time::{Duration, Instant};

/// Polls `cond` for up to 5 s; for conditions a background thread makes true.
#[allow(dead_code)]
pub fn eventually(cond: impl FnMut() -> bool) -> bool {
    eventually_within(Duration::from_secs(5), cond)
}

/// Polls `cond` for up to `limit`: for heavy work that an emulated CPU (the arm64 suite runs
/// under qemu) may take many seconds over.
#[allow(dead_code)]
pub fn eventually_within(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

/// Asks `client` to fetch every millisecond until dropped: fast polling for tests, which the
/// 1 s minimum `update_interval` does not allow.
#[allow(dead_code)]
pub struct Pump {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[allow(dead_code)]
pub fn pump(client: &flipt_client::FliptClient) -> Pump {
    use std::sync::atomic::{AtomicBool, Ordering};
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let (d, client) = (done.clone(), client.clone());
    let thread = std::thread::spawn(move || {
        while !d.load(Ordering::Relaxed) {
            client.refresh();
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    Pump {
        done,
        thread: Some(thread),
    }
}

impl Drop for Pump {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An example as a command. Under emulation (CI's arm64 run under qemu-user) the
/// `FLIPT_TEST_RUNNER` variable names the emulator, as Cargo's target runner does for tests.
#[allow(dead_code)]
pub fn example_command(name: &str) -> std::process::Command {
    let exe = example(name);
    match std::env::var("FLIPT_TEST_RUNNER") {
        Ok(runner) if !runner.trim().is_empty() => {
            let mut parts = runner.split_whitespace();
            let mut cmd = std::process::Command::new(parts.next().unwrap_or_default());
            cmd.args(parts).arg(exe);
            cmd
        }
        _ => std::process::Command::new(exe),
    }
}

/// `cargo test` builds the examples next to the test binaries.
#[allow(dead_code)]
pub fn example(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let path = dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "{} not built", path.display());
    path
}

/// The `evaluate` example with `args`, in an environment whose proxy variables are exactly
/// `env` (this process's own are removed), so that tests never touch their own environment.
#[allow(dead_code)]
pub fn evaluate_with_proxy_env(
    args: &[&std::ffi::OsStr],
    env: &[(&str, String)],
) -> std::process::Output {
    let mut cmd = example_command("evaluate");
    cmd.args(args);
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "REQUEST_METHOD",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    cmd.output().expect("run the evaluate example")
}
