//! The C ABI of the official engine (`flipt_engine.h`, `libfliptengine`), built on
//! [`FliptClient`], so that the official Python, Ruby, Java, C#, Dart, Swift and Kotlin SDKs
//! (and C or C++ programs) can load this library in place of theirs. Behind the `ffi` feature:
//!
//! ```text
//! cargo rustc --release --lib --features ffi --crate-type cdylib
//! ```
//!
//! Every function takes and returns NUL-terminated UTF-8 JSON, as in docs/PROTOCOL.md: requests in,
//! `{"status","result","error_message"}` envelopes out (`get_snapshot` returns bare base64 on
//! success). Strings returned are owned by the caller and freed with `destroy_string`.
//!
//! Nothing crosses the boundary unchecked: a null pointer, invalid UTF-8 or JSON, or a panic
//! inside gives a failure envelope. Invalid options do not silently become defaults as in the
//! official engine: the engine is created in a failed state whose every call answers a failure
//! envelope naming the bad option.
//!
//! This is the only module of the crate that uses `unsafe`: to read the caller's C strings, to
//! hand strings back and take them again, and to turn the engine pointer into a reference.
#![allow(unsafe_code)]

use crate::error::Error;
use crate::eval::json::{envelope, flags_json};
use crate::eval::result::EvaluationRequest;
use crate::options::{Authentication, ClientOptions, ErrorStrategy, FetchMode, Proxy, TlsConfig};
use crate::FliptClient;
use miniserde::json::{Number, Value};
use std::collections::BTreeMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

/// What `initialize_engine` hands out: a running client, or why there is none.
enum Engine {
    Ready(FliptClient),
    Failed(Error),
}

/// One evaluation request of the official SDKs. `namespace_key` is accepted and ignored: the
/// engine evaluates in its configured namespace (docs/EVALUATION.md).
#[derive(miniserde::Deserialize)]
struct Request {
    #[allow(dead_code)]
    namespace_key: Option<String>,
    flag_key: String,
    entity_id: String,
    context: Option<BTreeMap<String, String>>,
}

/// A failure envelope for misuse of the ABI (null pointers, bad UTF-8 or JSON, panics).
/// The engine's result timestamp: now, in UTC.
fn now() -> String {
    crate::util::datetime::format_rfc3339(std::time::SystemTime::now())
}

fn failure(message: &str) -> String {
    envelope(Err(Error::Internal(message.to_string())))
}

/// Hands `text` to the caller as a C string (freed with `destroy_string`).
fn give(text: String) -> *const c_char {
    match CString::new(text) {
        Ok(c) => c.into_raw(),
        // JSON output escapes every control character, so this is not reached; a fixed
        // envelope keeps the promise of a valid answer anyway.
        Err(_) => CString::new(failure("output contained a NUL byte"))
            .map_or(std::ptr::null(), |c| c.into_raw()),
    }
}

/// The caller's C string as UTF-8.
///
/// # Safety
/// `ptr` is null or points to a NUL-terminated string that stays valid during the call.
unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(Error::Internal(format!("{what} is a null pointer")));
    }
    // SAFETY: non-null, and the caller promises a NUL-terminated string valid for this call.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str()
        .map_err(|e| Error::Internal(format!("{what} is not UTF-8: {e}")))
}

/// The engine behind `ptr`.
///
/// # Safety
/// `ptr` is null or a pointer returned by `initialize_engine` and not yet destroyed.
unsafe fn engine<'a>(ptr: *mut c_void) -> Result<&'a FliptClient, Error> {
    if ptr.is_null() {
        return Err(Error::Internal("engine pointer is null".into()));
    }
    // SAFETY: a pointer from `initialize_engine` is a live `Box<Engine>` until
    // `destroy_engine`; the caller promises not to use it after that.
    match unsafe { &*(ptr as *const Engine) } {
        Engine::Ready(client) => Ok(client),
        Engine::Failed(why) => Err(why.clone()),
    }
}

/// Runs `body`, turning a panic into a failure envelope: no unwinding crosses into C.
fn guarded(body: impl FnOnce() -> String) -> *const c_char {
    give(catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| failure("panic in the engine")))
}

// ---- options ----

fn string(v: &Value, key: &str) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(format!("{key}: expected a string")),
    }
}

fn seconds(v: &Value, key: &str) -> Result<u64, String> {
    match v {
        Value::Number(Number::U64(n)) => Ok(*n),
        _ => Err(format!("{key}: expected a whole number of seconds")),
    }
}

fn flag(v: &Value, key: &str) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => Err(format!("{key}: expected true or false")),
    }
}

/// `{"client_token":"T"}`, `{"jwt_token":"T"}` or `"none"` (docs/PROTOCOL.md §2.1, §13).
fn authentication(v: &Value) -> Result<Option<Authentication>, String> {
    match v {
        Value::String(s) if s == "none" => Ok(None),
        Value::Null => Ok(None),
        Value::Object(o) => {
            let token = |k: &str| o.get(k).filter(|v| !matches!(v, Value::Null));
            match (token("client_token"), token("jwt_token")) {
                (Some(t), None) => Ok(Some(Authentication::client_token(string(
                    t,
                    "authentication.client_token",
                )?))),
                (None, Some(t)) => Ok(Some(Authentication::jwt(string(
                    t,
                    "authentication.jwt_token",
                )?))),
                (Some(_), Some(_)) => Err("authentication: both client_token and jwt_token".into()),
                (None, None) => Ok(None),
            }
        }
        _ => Err("authentication: expected an object or \"none\"".into()),
    }
}

fn tls(v: &Value) -> Result<TlsConfig, String> {
    let Value::Object(o) = v else {
        return Err("tls_config: expected an object".into());
    };
    let mut tls = TlsConfig::new();
    for (key, value) in o.iter() {
        if matches!(value, Value::Null) {
            continue;
        }
        let name = format!("tls_config.{key}");
        match key.as_str() {
            "ca_cert_file" => tls.ca_cert_file = Some(string(value, &name)?.into()),
            "ca_cert_data" => tls.ca_cert_data = Some(string(value, &name)?),
            "insecure_skip_verify" => tls.insecure_skip_verify = flag(value, &name)?,
            "insecure_skip_hostname_verify" => {
                tls.insecure_skip_hostname_verify = flag(value, &name)?
            }
            "client_cert_file" => tls.client_cert_file = Some(string(value, &name)?.into()),
            "client_key_file" => tls.client_key_file = Some(string(value, &name)?.into()),
            "client_cert_data" => tls.client_cert_data = Some(string(value, &name)?),
            "client_key_data" => tls.client_key_data = Some(string(value, &name)?),
            _ => {}
        }
    }
    Ok(tls)
}

/// The engine's options JSON (docs/PROTOCOL.md §2.1) as [`ClientOptions`]. Unknown keys are
/// ignored, as in the engine; a present key of the wrong type is an error.
fn options(json: &str) -> Result<ClientOptions, String> {
    let value: Value = miniserde::json::from_str(json).map_err(|_| "options: not a JSON object")?;
    let Value::Object(o) = value else {
        return Err("options: not a JSON object".into());
    };
    // As the official engine (reqwest's defaults): the proxy environment variables apply
    // unless the options name a proxy (our extension; `""` for a direct connection).
    let mut opts = ClientOptions::new().proxy_from_env();
    for (key, value) in o.iter() {
        if matches!(value, Value::Null) {
            continue;
        }
        match key.as_str() {
            "url" => opts.url = string(value, key)?,
            "environment" => opts.environment = string(value, key)?,
            "namespace" => opts.namespace = string(value, key)?,
            "reference" => opts.reference = Some(string(value, key)?),
            "snapshot" => opts.snapshot = Some(string(value, key)?),
            "proxy" => {
                opts.proxy = match string(value, key)? {
                    url if url.is_empty() => Proxy::Direct,
                    url => Proxy::Url(url),
                }
            }
            "authentication" => opts.authentication = authentication(value)?,
            "tls_config" => opts.tls_config = Some(tls(value)?),
            // 0 means "no timeout" in the engine.
            "request_timeout" => {
                opts.request_timeout = match seconds(value, key)? {
                    0 => None,
                    n => Some(Duration::from_secs(n)),
                }
            }
            // 0 means the default in the engine.
            "update_interval" => {
                if let n @ 1.. = seconds(value, key)? {
                    opts.update_interval = Duration::from_secs(n);
                }
            }
            "fetch_mode" => {
                opts.fetch_mode = match string(value, key)?.as_str() {
                    "polling" => FetchMode::Polling,
                    "streaming" => FetchMode::Streaming,
                    other => {
                        return Err(format!("fetch_mode: {other:?} is not polling or streaming"))
                    }
                }
            }
            "error_strategy" => {
                opts.error_strategy = match string(value, key)?.as_str() {
                    "fail" => ErrorStrategy::Fail,
                    "fallback" => ErrorStrategy::Fallback,
                    other => {
                        return Err(format!("error_strategy: {other:?} is not fail or fallback"))
                    }
                }
            }
            _ => {}
        }
    }
    Ok(opts)
}

fn start(opts: *const c_char) -> Engine {
    // SAFETY: the caller passes null or a NUL-terminated options string.
    let json = match unsafe { text(opts, "options") } {
        Ok(json) => json,
        Err(why) => return Engine::Failed(why),
    };
    // Each message starts with the key it is about (`fetch_mode: …`, `options: …`).
    let invalid =
        |m: String| Error::invalid(m.split(':').next().unwrap_or("options").to_string(), m);
    let built = options(json).map_err(invalid).and_then(|o| {
        // Started as the engine starts: under `fail`, a failed first fetch leaves a client in
        // the error state that recovers when the server does.
        FliptClient::start(o, false)
    });
    match built {
        Ok(client) => Engine::Ready(client),
        Err(why) => {
            log::error!("flipt: initialize_engine: {why}");
            Engine::Failed(why)
        }
    }
}

// ---- requests ----

fn one_request(json: &str) -> Result<Request, String> {
    miniserde::json::from_str(json).map_err(|_| {
        "invalid request JSON: expected {\"namespace_key\",\"flag_key\",\"entity_id\",\"context\"} with string context values".to_string()
    })
}

/// The engine and the argument text of a call, or the failure envelope to answer.
///
/// # Safety
/// As for [`engine`] and [`text`].
unsafe fn call_args<'a>(
    ptr: *mut c_void,
    arg: *const c_char,
    what: &str,
) -> Result<(&'a FliptClient, &'a str), String> {
    // SAFETY: the caller's promises are those of `engine` and `text`.
    match unsafe { (engine(ptr), text(arg, what)) } {
        (Ok(client), Ok(json)) => Ok((client, json)),
        (Err(e), _) | (_, Err(e)) => Err(envelope(Err(e))),
    }
}

/// One evaluation request: parsed, evaluated by `eval`, answered as an envelope.
fn single(
    ptr: *mut c_void,
    request: *const c_char,
    eval: impl FnOnce(&FliptClient, &Request) -> Result<String, Error>,
) -> String {
    // SAFETY: the caller passes an engine pointer and a request string as documented.
    let (client, json) = match unsafe { call_args(ptr, request, "evaluation request") } {
        Ok(args) => args,
        Err(answer) => return answer,
    };
    match one_request(json) {
        Ok(r) => envelope(eval(client, &r)),
        Err(e) => failure(&e),
    }
}

fn variant(ptr: *mut c_void, request: *const c_char) -> String {
    single(ptr, request, |client, r| {
        client
            .evaluate_variant(&r.flag_key, &r.entity_id, &r.context)
            .map(|v| v.to_engine_json(&now()))
    })
}

fn boolean(ptr: *mut c_void, request: *const c_char) -> String {
    single(ptr, request, |client, r| {
        client
            .evaluate_boolean(&r.flag_key, &r.entity_id, &r.context)
            .map(|v| v.to_engine_json(&now()))
    })
}

fn batch(ptr: *mut c_void, requests: *const c_char) -> String {
    // SAFETY: the caller passes an engine pointer and a request string as documented.
    let (client, json) = match unsafe { call_args(ptr, requests, "batch request") } {
        Ok(args) => args,
        Err(answer) => return answer,
    };
    let parsed: Vec<Request> = match miniserde::json::from_str(json) {
        Ok(r) => r,
        Err(_) => return failure("invalid batch request JSON: expected an array of requests"),
    };
    let requests: Vec<EvaluationRequest<'_, Option<BTreeMap<String, String>>>> = parsed
        .iter()
        .map(|r| EvaluationRequest::new(&r.flag_key, &r.entity_id, &r.context))
        .collect();
    envelope(
        client
            .evaluate_batch(&requests)
            .map(|b| b.to_engine_json(&now())),
    )
}

fn snapshot(ptr: *mut c_void) -> String {
    // SAFETY: the caller passes an engine pointer as documented.
    match unsafe { engine(ptr) } {
        // Bare base64 on success, an envelope on failure, as the engine answers.
        Ok(client) => match client.get_snapshot() {
            Ok(b64) => b64,
            Err(e) => envelope(Err(e)),
        },
        Err(e) => envelope(Err(e)),
    }
}

fn flags(ptr: *mut c_void) -> String {
    // SAFETY: the caller passes an engine pointer as documented.
    match unsafe { engine(ptr) } {
        Ok(client) => envelope(client.list_flags().map(|f| flags_json(&f))),
        Err(e) => envelope(Err(e)),
    }
}

fn reauthenticate(ptr: *mut c_void, auth: *const c_char) -> String {
    // SAFETY: the caller passes an engine pointer and an authentication string as documented.
    let (client, json) = match unsafe { call_args(ptr, auth, "authentication") } {
        Ok(args) => args,
        Err(answer) => return answer,
    };
    let parsed = miniserde::json::from_str::<Value>(json)
        .map_err(|_| "not JSON".to_string())
        .and_then(|v| authentication(&v));
    match parsed {
        Err(e) => failure(&format!("invalid auth JSON: {e}")),
        Ok(auth) => envelope(
            client
                .update_authentication(auth)
                .map(|()| "null".to_string()),
        ),
    }
}

// ---- the exported functions ----

/// Creates an engine from options JSON. Never null; with invalid options the engine answers
/// every call with a failure envelope naming the problem.
///
/// # Safety
/// `opts` is null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn initialize_engine(opts: *const c_char) -> *mut c_void {
    let engine = catch_unwind(|| start(opts)).unwrap_or_else(|_| {
        Engine::Failed(Error::Internal("panic while starting the engine".into()))
    });
    Box::into_raw(Box::new(engine)) as *mut c_void
}

/// Stops an engine and frees it. Null is ignored. Returns promptly (see `FliptClient::close`).
///
/// # Safety
/// `engine_ptr` is null or from `initialize_engine`, and not used again.
#[no_mangle]
pub unsafe extern "C" fn destroy_engine(engine_ptr: *mut c_void) {
    if engine_ptr.is_null() {
        return;
    }
    // SAFETY: a pointer from `initialize_engine` is a `Box<Engine>` given up with
    // `Box::into_raw`; the caller promises this is its last use.
    let engine = unsafe { Box::from_raw(engine_ptr as *mut Engine) };
    if catch_unwind(AssertUnwindSafe(|| drop(engine))).is_err() {
        log::error!("flipt: panic while destroying the engine");
    }
}

/// Frees a string returned by this library. Null is ignored.
///
/// # Safety
/// `ptr` is null or a string returned by this library, not freed before.
#[no_mangle]
pub unsafe extern "C" fn destroy_string(ptr: *mut c_char) {
    if !ptr.is_null() {
        // SAFETY: strings handed out come from `CString::into_raw`; the caller promises this
        // one was not freed before.
        drop(unsafe { CString::from_raw(ptr) });
    }
}

/// Evaluates a variant flag: request JSON in, envelope out.
///
/// # Safety
/// `engine_ptr` as for `destroy_engine` but not destroyed; `evaluation_request` null or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn evaluate_variant(
    engine_ptr: *mut c_void,
    evaluation_request: *const c_char,
) -> *const c_char {
    guarded(|| variant(engine_ptr, evaluation_request))
}

/// Evaluates a boolean flag: request JSON in, envelope out.
///
/// # Safety
/// As for `evaluate_variant`.
#[no_mangle]
pub unsafe extern "C" fn evaluate_boolean(
    engine_ptr: *mut c_void,
    evaluation_request: *const c_char,
) -> *const c_char {
    guarded(|| boolean(engine_ptr, evaluation_request))
}

/// Evaluates a JSON array of requests: envelope of the batch response out.
///
/// # Safety
/// As for `evaluate_variant`.
#[no_mangle]
pub unsafe extern "C" fn evaluate_batch(
    engine_ptr: *mut c_void,
    batch_evaluation_request: *const c_char,
) -> *const c_char {
    guarded(|| batch(engine_ptr, batch_evaluation_request))
}

/// Lists the flags: envelope out.
///
/// # Safety
/// As for `evaluate_variant`.
#[no_mangle]
pub unsafe extern "C" fn list_flags(engine_ptr: *mut c_void) -> *const c_char {
    guarded(|| flags(engine_ptr))
}

/// The snapshot as bare base64 (a failure envelope on error).
///
/// # Safety
/// As for `evaluate_variant`.
#[no_mangle]
pub unsafe extern "C" fn get_snapshot(engine_ptr: *mut c_void) -> *const c_char {
    guarded(|| snapshot(engine_ptr))
}

/// Replaces the credentials (`{"client_token":..}`, `{"jwt_token":..}` or `"none"`).
///
/// # Safety
/// As for `evaluate_variant`.
#[no_mangle]
pub unsafe extern "C" fn update_authentication(
    engine_ptr: *mut c_void,
    auth_json: *const c_char,
) -> *const c_char {
    guarded(|| reauthenticate(engine_ptr, auth_json))
}

/// Declares `$twin`, the `_ffi` name the official header also gives `$plain`, forwarding to it.
macro_rules! twin {
    ($twin:ident => $plain:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        #[doc = concat!("[`", stringify!($plain), "`] under its `_ffi` name.")]
        ///
        /// # Safety
        /// As for the function it forwards to.
        #[no_mangle]
        pub unsafe extern "C" fn $twin($($arg: $ty),*) $(-> $ret)? {
            // SAFETY: the same contract as the function it forwards to.
            unsafe { $plain($($arg),*) }
        }
    };
}

twin!(initialize_engine_ffi => initialize_engine(opts: *const c_char) -> *mut c_void);
twin!(destroy_engine_ffi => destroy_engine(engine_ptr: *mut c_void));
twin!(destroy_string_ffi => destroy_string(ptr: *mut c_char));
twin!(evaluate_variant_ffi => evaluate_variant(
    engine_ptr: *mut c_void, evaluation_request: *const c_char) -> *const c_char);
twin!(evaluate_boolean_ffi => evaluate_boolean(
    engine_ptr: *mut c_void, evaluation_request: *const c_char) -> *const c_char);
twin!(evaluate_batch_ffi => evaluate_batch(
    engine_ptr: *mut c_void, batch_evaluation_request: *const c_char) -> *const c_char);
twin!(list_flags_ffi => list_flags(engine_ptr: *mut c_void) -> *const c_char);
twin!(get_snapshot_ffi => get_snapshot(engine_ptr: *mut c_void) -> *const c_char);
twin!(update_authentication_ffi => update_authentication(
    engine_ptr: *mut c_void, auth_json: *const c_char) -> *const c_char);

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls `f` with `s` as a C string and returns the answer as Rust text, freeing it.
    fn call(f: impl FnOnce(*const c_char) -> *const c_char, s: &str) -> String {
        let c = CString::new(s).unwrap();
        let out = f(c.as_ptr());
        // SAFETY: `out` is a string this library returned, freed once below.
        let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_string();
        // SAFETY: returned by this library, not freed before.
        unsafe { destroy_string(out as *mut c_char) };
        text
    }

    fn offline_engine() -> *mut c_void {
        let seed = FliptClient::from_snapshot_json(include_str!("../examples/data/snapshot.json"))
            .unwrap()
            .get_snapshot()
            .unwrap();
        let opts = format!(
            r#"{{"url":"http://127.0.0.1:9","error_strategy":"fallback","snapshot":"{seed}"}}"#
        );
        let c = CString::new(opts).unwrap();
        // SAFETY: a valid C string.
        unsafe { initialize_engine(c.as_ptr()) }
    }

    #[test]
    fn requests_and_envelopes_round_trip() {
        let e = offline_engine();
        // SAFETY (all calls below): `e` is live until destroy_engine at the end.
        let out = call(
            |r| unsafe { evaluate_variant(e, r) },
            r#"{"namespace_key":"default","flag_key":"checkout-theme","entity_id":"user-1","context":{"plan":"pro","age":"30"}}"#,
        );
        assert!(
            out.starts_with(r#"{"status":"success","result":{"match":true"#),
            "{out}"
        );
        assert!(out.contains(r#""variant_key":"blue""#), "{out}");
        let out = call(
            |r| unsafe { evaluate_boolean(e, r) },
            r#"{"flag_key":"nope","entity_id":"u","context":{}}"#,
        );
        assert_eq!(
            out,
            r#"{"status":"failure","result":null,"error_message":"invalid request: failed to get flag information default/nope"}"#
        );
        let out = call(
            |r| unsafe { evaluate_batch(e, r) },
            r#"[{"flag_key":"new-search","entity_id":"u","context":{}},{"flag_key":"nope","entity_id":"u","context":{}}]"#,
        );
        assert!(out.contains("ERROR_EVALUATION_RESPONSE_TYPE"), "{out}");
        let out = call(|_| unsafe { get_snapshot(e) }, "");
        assert!(out.starts_with("eyJ"), "bare base64: {out}");
        let out = call(|_| unsafe { list_flags(e) }, "");
        assert!(
            out.starts_with(r#"{"status":"success","result":["#),
            "{out}"
        );
        let out = call(|a| unsafe { update_authentication(e, a) }, r#""none""#);
        assert_eq!(
            out,
            r#"{"status":"success","result":null,"error_message":null}"#
        );
        // SAFETY: `e` from initialize_engine, not used again.
        unsafe { destroy_engine(e) };
    }

    #[test]
    fn bad_input_gives_failure_envelopes() {
        let e = offline_engine();
        for bad in [
            "",
            "{",
            "[]",
            r#"{"flag_key":1}"#,
            r#"{"flag_key":"f","entity_id":"u","context":{"n":1}}"#,
        ] {
            // SAFETY: `e` is live.
            let out = call(|r| unsafe { evaluate_variant(e, r) }, bad);
            assert!(
                out.starts_with(r#"{"status":"failure","result":null,"error_message":""#),
                "{bad}: {out}"
            );
        }
        // SAFETY: null pointers are answered, not dereferenced.
        let out = unsafe { evaluate_variant(e, std::ptr::null()) };
        // SAFETY: returned by this library.
        let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_string();
        assert!(text.contains("null pointer"), "{text}");
        // SAFETY: returned by this library, freed once.
        unsafe { destroy_string(out as *mut c_char) };
        let out = call(
            |r| unsafe { evaluate_variant(std::ptr::null_mut(), r) },
            "{}",
        );
        assert!(out.contains("engine pointer is null"), "{out}");
        // Invalid UTF-8.
        let bytes = CString::new(vec![0xffu8, 0xfe]).unwrap();
        // SAFETY: a valid C string (of invalid UTF-8).
        let out = unsafe { evaluate_boolean(e, bytes.as_ptr()) };
        // SAFETY: returned by this library.
        let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_string();
        assert!(text.contains("not UTF-8"), "{text}");
        // SAFETY: returned by this library, freed once; `e` not used again.
        unsafe {
            destroy_string(out as *mut c_char);
            destroy_engine(e);
            destroy_string(std::ptr::null_mut());
            destroy_engine(std::ptr::null_mut());
        }
    }

    #[test]
    fn under_fail_a_first_fetch_that_outlives_initialize_answers_its_timeout() {
        // A server that accepts and never answers: the first fetch outlives the 5 s wait.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let held = std::thread::spawn(move || {
            let mut open = Vec::new();
            for conn in listener.incoming().take(2).flatten() {
                open.push(conn);
            }
            std::thread::sleep(std::time::Duration::from_secs(30));
        });
        let opts = CString::new(format!(r#"{{"url":"{url}","error_strategy":"fail"}}"#)).unwrap();
        // SAFETY: a valid C string; the engine is destroyed below.
        let e = unsafe { initialize_engine(opts.as_ptr()) };
        let request = r#"{"flag_key":"f","entity_id":"u","context":{}}"#;
        // SAFETY: `e` is live.
        let out = call(|r| unsafe { evaluate_boolean(e, r) }, request);
        assert!(out.starts_with(r#"{"status":"failure""#), "{out}");
        assert!(
            out.contains("initial_fetch_timeout") && !out.contains("flag information"),
            "the server error state, not an empty snapshot: {out}"
        );
        // SAFETY: `e` is live.
        let out = call(|r| unsafe { evaluate_variant(e, r) }, request);
        assert!(out.contains("initial_fetch_timeout"), "{out}");
        // SAFETY: not used again.
        unsafe { destroy_engine(e) };
        drop(held);
    }

    #[test]
    fn the_proxy_comes_from_the_environment_unless_the_options_name_one() {
        assert_eq!(options("{}").unwrap().proxy, Proxy::FromEnv);
        assert_eq!(
            options(r#"{"proxy":"http://p:3128"}"#).unwrap().proxy,
            Proxy::Url("http://p:3128".into())
        );
        assert_eq!(options(r#"{"proxy":""}"#).unwrap().proxy, Proxy::Direct);
        assert!(options(r#"{"proxy":1}"#).is_err());
    }

    #[test]
    fn invalid_options_give_a_failed_engine_not_defaults() {
        for (opts, want) in [
            (r#"{"fetch_mode":"sse"}"#, "invalid option: fetch_mode"),
            (r#"{"update_interval":-1}"#, "update_interval"),
            (
                r#"{"authentication":{"client_token":"a","jwt_token":"b"}}"#,
                "both",
            ),
            (r#"{"url":"ftp://h"}"#, "scheme"),
            ("not json", "invalid option: options"),
        ] {
            let c = CString::new(opts).unwrap();
            // SAFETY: a valid C string; the engine is destroyed below.
            let e = unsafe { initialize_engine(c.as_ptr()) };
            assert!(!e.is_null());
            // SAFETY: `e` is live.
            let out = call(|_| unsafe { list_flags(e) }, "");
            assert!(out.starts_with(r#"{"status":"failure""#), "{opts}: {out}");
            assert!(out.contains(want), "{opts}: {out} should name {want}");
            // SAFETY: not used again.
            unsafe { destroy_engine(e) };
        }
    }
}
