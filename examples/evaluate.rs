//! Evaluate Flipt flags offline from a snapshot file.
//!
//! ```text
//! cargo run --example evaluate -- --snapshot examples/data/snapshot.json \
//!     --flag checkout-theme --entity user-1 --context plan=pro --context age=30
//! cargo run --example evaluate -- --snapshot FILE --requests requests.jsonl   # or --requests -
//! ```
//!
//! `--snapshot` takes a server document, the engine's JSON, a base64 seed, or the cache file a
//! client writes with `persist_path`. The namespace
//! defaults to the snapshot's own.
//!
//! Against a live Flipt server:
//!
//! ```text
//! cargo run --example evaluate -- --url http://localhost:8080 --client-token TOKEN \
//!     --namespace default --flag new-search --entity user-1
//! ```
//!
//! `--proxy http://host:port` sends the requests through a proxy (`socks5://` works too);
//! `--proxy-from-env` takes it from `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY`.
//!
//! With both `--url` and `--snapshot`, the file seeds the client and the `fallback` strategy
//! keeps it answering if the server cannot be reached. With `--requests`, each input line is a JSON object
//! `{"type": "variant"|"boolean"|"batch"|"list_flags"|"snapshot", ...request fields}` and each
//! output line is the official engine's envelope `{"status","result","error_message"}`.

use base64::Engine as _;
use flipt_client::json::{envelope, flags_json};
use flipt_client::{
    Authentication, ClientOptions, ErrorStrategy, EvaluationRequest, FetchMode, FlagType,
    FliptClient, Snapshot, TlsConfig,
};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::process::ExitCode;

const USAGE: &str = "usage: evaluate (--snapshot FILE | --url URL [--client-token T | --jwt T] [--environment ENV] \
[--streaming] [--ca-cert FILE] [--insecure] [--proxy URL | --proxy-from-env]) [--namespace NS] \
(--flag KEY --entity ID [--context k=v ...] [--json | --explain] | --requests FILE|-)";

#[derive(Default)]
struct Args {
    snapshot: Option<String>,
    namespace: Option<String>,
    flag: Option<String>,
    entity: Option<String>,
    context: Vec<(String, String)>,
    requests: Option<String>,
    json: bool,
    explain: bool,
    url: Option<String>,
    auth: Option<Authentication>,
    environment: Option<String>,
    streaming: bool,
    ca_cert: Option<String>,
    insecure: bool,
    proxy: Option<String>,
    proxy_from_env: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--snapshot" => args.snapshot = Some(value("--snapshot")?),
            "--namespace" => args.namespace = Some(value("--namespace")?),
            "--flag" => args.flag = Some(value("--flag")?),
            "--entity" => args.entity = Some(value("--entity")?),
            "--context" => {
                let kv = value("--context")?;
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| format!("--context {kv}: expected key=value"))?;
                args.context.push((k.to_string(), v.to_string()));
            }
            "--requests" => args.requests = Some(value("--requests")?),
            "--json" => args.json = true,
            "--explain" => args.explain = true,
            "--url" => args.url = Some(value("--url")?),
            "--client-token" => {
                args.auth = Some(Authentication::client_token(value("--client-token")?))
            }
            "--jwt" => args.auth = Some(Authentication::jwt(value("--jwt")?)),
            "--environment" => args.environment = Some(value("--environment")?),
            "--ca-cert" => args.ca_cert = Some(value("--ca-cert")?),
            "--streaming" => args.streaming = true,
            "--insecure" => args.insecure = true,
            "--proxy" => args.proxy = Some(value("--proxy")?),
            "--proxy-from-env" => args.proxy_from_env = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn connect(args: &Args, url: &str, seed: Option<Snapshot>) -> Result<FliptClient, String> {
    let mut options = ClientOptions::new().url(url);
    if let Some(ns) = args
        .namespace
        .clone()
        .or_else(|| seed.as_ref().map(|s| s.namespace().to_string()))
    {
        options = options.namespace(ns);
    }
    if let Some(env) = &args.environment {
        options = options.environment(env);
    }
    if let Some(auth) = &args.auth {
        options = options.authentication(auth.clone());
    }
    if args.streaming {
        options = options.fetch_mode(FetchMode::Streaming);
    }
    if let Some(proxy) = &args.proxy {
        options = options.proxy(proxy);
    }
    if args.proxy_from_env {
        options = options.proxy_from_env();
    }
    if args.ca_cert.is_some() || args.insecure {
        let mut tls = TlsConfig::new().insecure_skip_verify(args.insecure);
        if let Some(ca) = &args.ca_cert {
            tls = tls.ca_cert_file(ca);
        }
        options = options.tls_config(tls);
    }
    if let Some(seed) = seed {
        options = options
            .snapshot(seed.to_base64())
            .error_strategy(ErrorStrategy::Fallback);
    }
    FliptClient::new(options).map_err(|e| e.to_string())
}

fn load_client(args: &Args) -> Result<FliptClient, String> {
    let seed = match args.snapshot.as_deref() {
        None => None,
        Some(path) => {
            // Its errors name the file.
            let snapshot = Snapshot::from_file(path).map_err(|e| e.to_string())?;
            // What the engine does not know: loaded as the engine loads it, but told.
            for w in snapshot.warnings() {
                eprintln!("warning: {path}: {w}");
            }
            Some(snapshot)
        }
    };
    if let Some(url) = &args.url {
        return connect(args, url, seed);
    }
    let snapshot = seed.ok_or("--snapshot FILE or --url URL is required")?;
    Ok(match &args.namespace {
        Some(ns) => FliptClient::from_snapshot_in(ns, snapshot),
        None => FliptClient::from_snapshot(snapshot),
    })
}

/// The string values of a request's `context` object (other JSON types are dropped, as the
/// engine does).
fn context_of(req: &Value) -> HashMap<String, String> {
    req.get("context")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn field<'a>(req: &'a Value, name: &str) -> Result<&'a str, String> {
    req.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("request needs a string \"{name}\""))
}

/// Answers one request line with the engine's envelope.
fn answer(client: &FliptClient, line: &str) -> Result<String, String> {
    let req: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let kind = field(&req, "type")?;
    Ok(match kind {
        "variant" => envelope(
            client
                .evaluate_variant(
                    field(&req, "flag_key")?,
                    field(&req, "entity_id")?,
                    &context_of(&req),
                )
                .map(|r| r.to_json()),
        ),
        "boolean" => envelope(
            client
                .evaluate_boolean(
                    field(&req, "flag_key")?,
                    field(&req, "entity_id")?,
                    &context_of(&req),
                )
                .map(|r| r.to_json()),
        ),
        "batch" => {
            let items = req
                .get("requests")
                .and_then(Value::as_array)
                .ok_or("batch needs \"requests\"")?;
            let contexts: Vec<_> = items.iter().map(context_of).collect();
            let mut requests = Vec::with_capacity(items.len());
            for (r, c) in items.iter().zip(&contexts) {
                requests.push(EvaluationRequest::new(
                    field(r, "flag_key")?,
                    field(r, "entity_id")?,
                    c,
                ));
            }
            envelope(client.evaluate_batch(&requests).map(|b| b.to_json()))
        }
        "list_flags" => envelope(client.list_flags().map(|f| flags_json(&f))),
        "snapshot" => envelope(client.get_snapshot().map(|b64| {
            // The vectors hold the decoded JSON; our own base64 always decodes.
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_default();
            String::from_utf8(bytes).unwrap_or_default()
        })),
        other => return Err(format!("unknown request type {other:?}")),
    })
}

fn run_requests(client: &FliptClient, source: &str) -> Result<(), String> {
    let input: Box<dyn BufRead> = if source == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(source).map_err(|e| format!("cannot open {source}: {e}"))?;
        Box::new(std::io::BufReader::new(file))
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (n, line) in input.lines().enumerate() {
        let line = line.map_err(|e| format!("{source}: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let reply = answer(client, &line).map_err(|e| format!("{source}:{}: {e}", n + 1))?;
        writeln!(out, "{reply}").map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}

fn run_one(client: &FliptClient, args: &Args) -> Result<bool, String> {
    let flag = args
        .flag
        .as_deref()
        .ok_or("--flag KEY is required (or use --requests)")?;
    let entity = args.entity.as_deref().ok_or("--entity ID is required")?;
    let ctx = args.context.as_slice();
    let snapshot = client.snapshot();
    let kind = snapshot.flag_type(flag).unwrap_or(FlagType::Variant);
    if args.explain {
        let why = match kind {
            FlagType::Variant => client.explain_variant(flag, entity, ctx),
            FlagType::Boolean => client.explain_boolean(flag, entity, ctx),
        };
        return match why {
            Ok(why) => {
                println!("{why}");
                Ok(true)
            }
            Err(e) => {
                println!("error       {e}");
                Ok(false)
            }
        };
    }
    if args.json {
        let reply = match kind {
            FlagType::Variant => envelope(
                client
                    .evaluate_variant(flag, entity, ctx)
                    .map(|r| r.to_json()),
            ),
            FlagType::Boolean => envelope(
                client
                    .evaluate_boolean(flag, entity, ctx)
                    .map(|r| r.to_json()),
            ),
        };
        println!("{reply}");
        return Ok(true);
    }
    println!("namespace   {}", client.namespace());
    let health = client.health();
    println!(
        "snapshot    {:?}, generation {}, {:.1} s old",
        health.source,
        health.generation,
        health.snapshot_age().as_secs_f64()
    );
    println!("flag        {flag}");
    println!("entity      {entity}");
    let result = match kind {
        FlagType::Variant => client.evaluate_variant(flag, entity, ctx).map(|r| {
            println!("type        variant");
            println!("match       {}", r.is_match());
            println!("variant     {}", r.variant_key());
            println!("attachment  {}", r.variant_attachment().unwrap_or("(none)"));
            println!("reason      {}", r.reason());
            println!(
                "segments    {}",
                r.segment_keys().collect::<Vec<_>>().join(", ")
            );
        }),
        FlagType::Boolean => client.evaluate_boolean(flag, entity, ctx).map(|r| {
            println!("type        boolean");
            println!("enabled     {}", r.is_enabled());
            println!("reason      {}", r.reason());
            println!(
                "segments    {}",
                r.segment_keys().collect::<Vec<_>>().join(", ")
            );
        }),
    };
    match result {
        Ok(()) => Ok(true),
        Err(e) => {
            println!("error       {e}");
            Ok(false)
        }
    }
}

fn main() -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("evaluate: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let outcome = load_client(&args).and_then(|client| match &args.requests {
        Some(source) => run_requests(&client, source).map(|()| true),
        None => run_one(&client, &args),
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("evaluate: {e}");
            ExitCode::from(2)
        }
    }
}
