//! The official SDKs' README example in Rust: connect with a client token, evaluate, close.
//!
//! ```text
//! FLIPT_URL=http://localhost:8080 FLIPT_CLIENT_TOKEN=secret cargo run --example basic
//! ```

use flipt_client::{Authentication, ClientOptions, FliptClient};
use std::collections::HashMap;

const USAGE: &str = "usage: basic

Connects to FLIPT_URL (default http://localhost:8080) with FLIPT_CLIENT_TOKEN, if set,
evaluates a variant and a boolean flag, and closes the client.";

fn main() -> Result<(), flipt_client::Error> {
    if std::env::args().skip(1).any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let url = std::env::var("FLIPT_URL").unwrap_or_else(|_| "http://localhost:8080".into());
    let mut options = ClientOptions::new().url(url).namespace("default");
    if let Ok(token) = std::env::var("FLIPT_CLIENT_TOKEN") {
        options = options.authentication(Authentication::client_token(token));
    }
    let client = FliptClient::new(options)?;

    let mut context = HashMap::new();
    context.insert("fizz".to_string(), "buzz".to_string());

    match client.evaluate_variant("flag1", "someentity", &context) {
        Ok(result) => println!("{}", result.to_json()),
        Err(e) => println!("flag1: {e}"),
    }
    match client.evaluate_boolean("flag_boolean", "someentity", &context) {
        Ok(result) => println!("{}", result.to_json()),
        Err(e) => println!("flag_boolean: {e}"),
    }

    client.close();
    Ok(())
}
