//! A game loop: every frame, evaluate a handful of flags for the player with a context that
//! lives on the stack, then report the cost per frame and confirm that no frame allocated.
//!
//! It takes the fastest path the bench measures: a flag handle per flag (no key lookup)
//! evaluated through a `Reader` owned by the game thread (no lock, no shared writes).
//!
//! ```text
//! cargo run --release --example game_loop [-- --frames 100000]
//! ```

use flipt_client::FliptClient;
use std::hint::black_box;
use std::time::Instant;

#[path = "support/counting.rs"]
mod counting;

/// Counts allocations so the example can prove the frame loop makes none.
#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

struct Player {
    id: String,
    level: u32,
    beta: bool,
}

const USAGE: &str = "usage: game_loop [--frames N]

Evaluates the bundled snapshot's flags every frame for N frames (default 100000) and prints
the cost per frame and the allocations made by the frame loop (none).";

fn main() -> Result<(), flipt_client::Error> {
    if std::env::args().skip(1).any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let frames: u64 = std::env::args()
        .skip_while(|a| a != "--frames")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    // Loaded once at startup; a live game would use FliptClient::new with a server.
    let flags = FliptClient::from_snapshot_file("examples/data/snapshot.json")?;
    let player = Player {
        id: "user-1".into(),
        level: 30,
        beta: true,
    };

    // Handles and the reader are made once, outside the frame loop.
    let theme_flag = flags.flag("checkout-theme");
    let search_flag = flags.flag("new-search");
    let mut reader = flags.reader();

    // Strings the context borrows are prepared once, outside the frame loop.
    let level = player.level.to_string();
    let level = level.as_str();
    let (mut blue, mut search) = (0u64, 0u64);

    let before = counting::allocations_so_far();
    let start = Instant::now();
    for _ in 0..frames {
        // The context is a stack array of borrowed strings: nothing to build, nothing to free.
        let ctx = [
            ("plan", "pro"),
            ("age", level),
            ("beta", if player.beta { "true" } else { "false" }),
        ];
        let theme = theme_flag.evaluate_variant_with(&mut reader, &player.id, &ctx)?;
        if theme.variant_key() == "blue" {
            blue += 1;
        }
        if search_flag
            .evaluate_boolean_with(&mut reader, &player.id, &ctx)?
            .is_enabled()
        {
            search += 1;
        }
        black_box(&ctx);
    }
    let elapsed = start.elapsed();
    let allocations = counting::allocations_so_far() - before;

    println!("{frames} frames, 2 flags per frame: blue theme {blue}×, new search {search}×");
    println!(
        "flag cost per frame: {:.0} ns; heap allocations in the frame loop: {allocations}",
        elapsed.as_nanos() as f64 / frames as f64
    );
    if allocations != 0 {
        eprintln!("unexpected: the frame loop allocated");
        std::process::exit(1);
    }
    Ok(())
}
