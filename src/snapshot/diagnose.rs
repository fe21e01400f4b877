//! Explains why a snapshot failed to parse.
//!
//! `miniserde` reports only "error", so when the fast typed parse fails we look again, slowly:
//! first for a JSON syntax error (with line and column), then for the first field that does not
//! fit the schema (with its path). This code runs only on the failure path.

use crate::error::SnapshotError;
use miniserde::json::{Number, Object, Value};
use std::fmt::Write;

/// Which of the two formats to check against.
#[derive(Clone, Copy)]
pub(crate) enum Format {
    Document,
    Engine,
    /// A line of the streaming endpoint, `{"result": Document}`.
    #[cfg_attr(not(feature = "net"), allow(dead_code))]
    StreamLine,
}

/// Finds a precise reason for a parse failure of `text` in `format`.
pub(crate) fn diagnose(text: &str, format: Format) -> SnapshotError {
    if let Some(e) = syntax_error(text) {
        return e;
    }
    let value: Value = match miniserde::json::from_str(text) {
        Ok(v) => v,
        // Syntactically valid per our scanner but refused by miniserde: a number it cannot hold.
        Err(_) => return SnapshotError::whole("a number is out of range"),
    };
    let mut path = String::new();
    let res = match format {
        Format::Document => document(&value, &mut path),
        Format::Engine => engine(&value, &mut path),
        Format::StreamLine => stream_line(&value, &mut path),
    };
    match res {
        Err(msg) => SnapshotError::at(path, msg),
        Ok(()) => SnapshotError::whole("document does not match the snapshot schema"),
    }
}

type Check = Result<(), &'static str>;

fn with<F: FnOnce(&mut String) -> Check>(path: &mut String, seg: &str, f: F) -> Check {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(seg);
    f(path)?;
    path.truncate(len);
    Ok(())
}

fn with_index<F: FnOnce(&mut String) -> Check>(path: &mut String, i: usize, f: F) -> Check {
    let len = path.len();
    let _ = write!(path, "[{i}]");
    f(path)?;
    path.truncate(len);
    Ok(())
}

fn with_key<F: FnOnce(&mut String) -> Check>(path: &mut String, key: &str, f: F) -> Check {
    let len = path.len();
    let _ = write!(path, "[{key:?}]");
    f(path)?;
    path.truncate(len);
    Ok(())
}

fn object(v: &Value) -> Result<&Object, &'static str> {
    match v {
        Value::Object(o) => Ok(o),
        _ => Err("expected an object"),
    }
}

/// A required field: present and not null.
fn req<'v>(o: &'v Object, key: &str, path: &mut String) -> Result<&'v Value, &'static str> {
    match o.get(key) {
        None | Some(Value::Null) => {
            // Leave the key on the path: the caller reports the error at it.
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key);
            Err("missing required field")
        }
        Some(v) => Ok(v),
    }
}

/// An optional field: absent or null gives `None`.
fn opt<'v>(o: &'v Object, key: &str) -> Option<&'v Value> {
    match o.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => Some(v),
    }
}

fn string(v: &Value) -> Check {
    match v {
        Value::String(_) => Ok(()),
        _ => Err("expected a string"),
    }
}

fn boolean(v: &Value) -> Check {
    match v {
        Value::Bool(_) => Ok(()),
        _ => Err("expected true or false"),
    }
}

fn float32(v: &Value) -> Check {
    let x = match v {
        Value::Number(Number::F64(x)) => *x,
        Value::Number(Number::U64(x)) => *x as f64,
        Value::Number(Number::I64(x)) => *x as f64,
        _ => return Err("expected a number"),
    };
    if x.abs() > f32::MAX as f64 {
        return Err("number out of range for a 32-bit float");
    }
    Ok(())
}

fn unsigned(v: &Value) -> Check {
    match v {
        Value::Number(Number::U64(_)) => Ok(()),
        _ => Err("expected a non-negative integer"),
    }
}

fn req_with(o: &Object, key: &str, path: &mut String, check: fn(&Value) -> Check) -> Check {
    let v = req(o, key, path)?;
    with(path, key, |_| check(v))
}

fn opt_with(o: &Object, key: &str, path: &mut String, check: fn(&Value) -> Check) -> Check {
    match opt(o, key) {
        Some(v) => with(path, key, |_| check(v)),
        None => Ok(()),
    }
}

fn array_of(v: &Value, path: &mut String, each: fn(&Value, &mut String) -> Check) -> Check {
    let Value::Array(items) = v else {
        return Err("expected an array");
    };
    for (i, item) in items.iter().enumerate() {
        with_index(path, i, |p| each(item, p))?;
    }
    Ok(())
}

fn map_of(v: &Value, path: &mut String, each: fn(&Value, &mut String) -> Check) -> Check {
    let o = object(v)?;
    for (k, item) in o.iter() {
        with_key(path, k, |p| each(item, p))?;
    }
    Ok(())
}

fn req_array(
    o: &Object,
    key: &str,
    path: &mut String,
    each: fn(&Value, &mut String) -> Check,
) -> Check {
    let v = req(o, key, path)?;
    with(path, key, |p| array_of(v, p, each))
}

fn opt_array(
    o: &Object,
    key: &str,
    path: &mut String,
    each: fn(&Value, &mut String) -> Check,
) -> Check {
    match opt(o, key) {
        Some(v) => with(path, key, |p| array_of(v, p, each)),
        None => Ok(()),
    }
}

fn req_map(
    o: &Object,
    key: &str,
    path: &mut String,
    each: fn(&Value, &mut String) -> Check,
) -> Check {
    let v = req(o, key, path)?;
    with(path, key, |p| map_of(v, p, each))
}

fn req_object(
    o: &Object,
    key: &str,
    path: &mut String,
    each: fn(&Value, &mut String) -> Check,
) -> Check {
    let v = req(o, key, path)?;
    with(path, key, |p| each(v, p))
}

fn opt_object(
    o: &Object,
    key: &str,
    path: &mut String,
    each: fn(&Value, &mut String) -> Check,
) -> Check {
    match opt(o, key) {
        Some(v) => with(path, key, |p| each(v, p)),
        None => Ok(()),
    }
}

// ---- server document ----

fn document(v: &Value, path: &mut String) -> Check {
    let o = object(v)?;
    req_object(o, "namespace", path, |v, p| {
        req_with(object(v)?, "key", p, string)
    })?;
    req_array(o, "flags", path, doc_flag)
}

fn doc_flag(v: &Value, path: &mut String) -> Check {
    let o = object(v)?;
    req_with(o, "key", path, string)?;
    req_with(o, "name", path, string)?;
    opt_with(o, "description", path, string)?;
    req_with(o, "enabled", path, boolean)?;
    opt_with(o, "type", path, string)?;
    opt_array(o, "rules", path, doc_rule)?;
    opt_array(o, "rollouts", path, doc_rollout)?;
    opt_object(o, "defaultVariant", path, variant)
}

fn variant(v: &Value, path: &mut String) -> Check {
    let o = object(v)?;
    req_with(o, "id", path, string)?;
    req_with(o, "key", path, string)?;
    opt_with(o, "attachment", path, string)
}

fn doc_rule(v: &Value, path: &mut String) -> Check {
    let o = object(v)?;
    opt_array(o, "segments", path, doc_segment)?;
    req_with(o, "segmentOperator", path, string)?;
    req_array(o, "distributions", path, |v, p| {
        let o = object(v)?;
        req_with(o, "variantKey", p, string)?;
        opt_with(o, "variantAttachment", p, string)?;
        req_with(o, "rollout", p, float32)
    })
}

fn threshold(v: &Value, path: &mut String) -> Check {
    let o = object(v)?;
    req_with(o, "percentage", path, float32)?;
    req_with(o, "value", path, boolean)
}

fn doc_rollout(v: &Value, path: &mut String) -> Check {
    let o = object(v)?;
    opt_object(o, "threshold", path, threshold)?;
    opt_object(o, "segment", path, |v, p| {
        let o = object(v)?;
        req_with(o, "value", p, boolean)?;
        opt_with(o, "segmentOperator", p, string)?;
        req_array(o, "segments", p, doc_segment)
    })
}

fn doc_segment(v: &Value, path: &mut String) -> Check {
    let o = object(v)?;
    req_with(o, "key", path, string)?;
    req_with(o, "matchType", path, string)?;
    req_array(o, "constraints", path, constraint)
}

fn constraint(v: &Value, path: &mut String) -> Check {
    let o = object(v)?;
    for key in ["type", "property", "operator", "value"] {
        req_with(o, key, path, string)?;
    }
    Ok(())
}

fn stream_line(v: &Value, path: &mut String) -> Check {
    let o = object(v)?;
    if o.get("result").is_none() {
        if let Some(Value::Object(e)) = o.get("error") {
            path.push_str("error");
            return Err(match e.get("message") {
                Some(Value::String(_)) => "the server reported an error in the stream",
                _ => "the server reported an error",
            });
        }
    }
    req_object(o, "result", path, document)
}

// ---- engine snapshot ----

fn engine(v: &Value, path: &mut String) -> Check {
    let o = object(v)?;
    opt_with(o, "version", path, unsigned)?;
    req_object(o, "namespace", path, |v, p| {
        let o = object(v)?;
        req_with(o, "key", p, string)?;
        req_map(o, "flags", p, engine_flag)?;
        req_map(o, "eval_rules", p, |v, p| array_of(v, p, engine_rule))?;
        req_map(o, "eval_rollouts", p, |v, p| array_of(v, p, engine_rollout))?;
        req_map(o, "eval_distributions", p, |v, p| {
            array_of(v, p, |v, p| {
                let o = object(v)?;
                req_with(o, "rule_id", p, string)?;
                req_with(o, "rollout", p, float32)?;
                req_with(o, "variant_key", p, string)?;
                opt_with(o, "variant_attachment", p, string)
            })
        })
    })
}

fn engine_flag(v: &Value, path: &mut String) -> Check {
    let o = object(v)?;
    req_with(o, "key", path, string)?;
    req_with(o, "enabled", path, boolean)?;
    req_with(o, "type", path, string)?;
    opt_with(o, "description", path, string)?;
    opt_object(o, "default_variant", path, variant)
}

fn engine_rule(v: &Value, path: &mut String) -> Check {
    let o = object(v)?;
    req_with(o, "id", path, string)?;
    req_with(o, "flag_key", path, string)?;
    req_map(o, "segments", path, engine_segment)?;
    req_with(o, "rank", path, unsigned)?;
    req_with(o, "segment_operator", path, string)
}

fn engine_segment(v: &Value, path: &mut String) -> Check {
    let o = object(v)?;
    req_with(o, "segment_key", path, string)?;
    req_with(o, "match_type", path, string)?;
    req_array(o, "constraints", path, constraint)
}

fn engine_rollout(v: &Value, path: &mut String) -> Check {
    let o = object(v)?;
    req_with(o, "rollout_type", path, string)?;
    req_with(o, "rank", path, unsigned)?;
    opt_object(o, "threshold", path, threshold)?;
    opt_object(o, "segment", path, |v, p| {
        let o = object(v)?;
        req_with(o, "value", p, boolean)?;
        req_with(o, "segment_operator", p, string)?;
        req_map(o, "segments", p, engine_segment)
    })
}

// ---- JSON syntax ----

/// Returns the first JSON syntax error in `text` with its line and column, or `None` if the
/// text is one well-formed JSON value. Iterative, so deep nesting cannot overflow the stack.
pub(crate) fn syntax_error(text: &str) -> Option<SnapshotError> {
    let b = text.as_bytes();
    let mut i = 0usize;
    // Stack of open containers: true = object, false = array.
    let mut stack: Vec<bool> = Vec::new();
    let fail = |at: usize, what: &str| {
        let at = at.min(b.len());
        // Whatever was expected, running out of input is the real story.
        let what = if at == b.len() {
            "unexpected end of input"
        } else {
            what
        };
        let before = &b[..at];
        let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
        let col = at
            - before
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(0, |p| p + 1)
            + 1;
        Some(SnapshotError::whole(format!(
            "{what} at line {line} column {col}"
        )))
    };
    let ws = |i: &mut usize| {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\n' | b'\r') {
            *i += 1;
        }
    };
    if b.iter().all(|c| c.is_ascii_whitespace()) {
        return Some(SnapshotError::whole("empty input"));
    }
    // State machine: expecting a value, then after a value, a separator or a closer.
    'value: loop {
        ws(&mut i);
        if i >= b.len() {
            return fail(i, "unexpected end of input");
        }
        match b[i] {
            b'{' | b'[' => {
                let is_obj = b[i] == b'{';
                i += 1;
                ws(&mut i);
                let closer = if is_obj { b'}' } else { b']' };
                if i < b.len() && b[i] == closer {
                    i += 1;
                } else {
                    stack.push(is_obj);
                    if is_obj {
                        if let Some(e) = key(b, &mut i, &fail, &ws) {
                            return Some(e);
                        }
                    }
                    continue 'value;
                }
            }
            b'"' => {
                if let Err(at) = string_end(b, &mut i) {
                    return fail(at, "invalid string");
                }
            }
            b't' | b'f' | b'n' => {
                let lit: &[u8] = match b[i] {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                if !b[i..].starts_with(lit) {
                    return fail(i, "invalid literal");
                }
                i += lit.len();
            }
            b'-' | b'0'..=b'9' => {
                if let Err(at) = number_end(b, &mut i) {
                    return fail(at, "invalid number");
                }
            }
            _ => return fail(i, "expected a value"),
        }
        // After a value: close containers or move to the next element.
        loop {
            ws(&mut i);
            let Some(&is_obj) = stack.last() else {
                return if i == b.len() {
                    None
                } else {
                    fail(i, "trailing characters")
                };
            };
            if i >= b.len() {
                return fail(i, "unexpected end of input");
            }
            match (b[i], is_obj) {
                (b',', true) => {
                    i += 1;
                    if let Some(e) = key(b, &mut i, &fail, &ws) {
                        return Some(e);
                    }
                    continue 'value;
                }
                (b',', false) => {
                    i += 1;
                    continue 'value;
                }
                (b'}', true) | (b']', false) => {
                    i += 1;
                    stack.pop();
                }
                _ => return fail(i, "expected ',' or a closing bracket"),
            }
        }
    }
}

fn key(
    b: &[u8],
    i: &mut usize,
    fail: &dyn Fn(usize, &str) -> Option<SnapshotError>,
    ws: &dyn Fn(&mut usize),
) -> Option<SnapshotError> {
    ws(i);
    if *i >= b.len() || b[*i] != b'"' {
        return fail(*i, "expected a string key");
    }
    if let Err(at) = string_end(b, i) {
        return fail(at, "invalid string");
    }
    ws(i);
    if *i >= b.len() || b[*i] != b':' {
        return fail(*i, "expected ':'");
    }
    *i += 1;
    None
}

fn string_end(b: &[u8], i: &mut usize) -> Result<(), usize> {
    *i += 1; // opening quote
    while *i < b.len() {
        match b[*i] {
            b'"' => {
                *i += 1;
                return Ok(());
            }
            b'\\' => {
                let Some(&e) = b.get(*i + 1) else {
                    return Err(*i);
                };
                match e {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => *i += 2,
                    b'u' => {
                        let hex = b.get(*i + 2..*i + 6).ok_or(*i)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return Err(*i);
                        }
                        let unit =
                            u16::from_str_radix(std::str::from_utf8(hex).map_err(|_| *i)?, 16)
                                .map_err(|_| *i)?;
                        *i += 6;
                        // A lone surrogate cannot become a Rust string.
                        if (0xD800..0xDC00).contains(&unit) {
                            let low = b.get(*i..*i + 6).ok_or(*i)?;
                            let ok = low.starts_with(b"\\u")
                                && std::str::from_utf8(&low[2..])
                                    .ok()
                                    .and_then(|h| u16::from_str_radix(h, 16).ok())
                                    .is_some_and(|u| (0xDC00..0xE000).contains(&u));
                            if !ok {
                                return Err(*i);
                            }
                            *i += 6;
                        } else if (0xDC00..0xE000).contains(&unit) {
                            return Err(*i - 6);
                        }
                    }
                    _ => return Err(*i),
                }
            }
            0x00..=0x1F => return Err(*i),
            _ => *i += 1,
        }
    }
    Err(*i)
}

fn number_end(b: &[u8], i: &mut usize) -> Result<(), usize> {
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b[*i] == b'-' {
        *i += 1;
    }
    let start = *i;
    let n = digits(i);
    if n == 0 || (n > 1 && b[start] == b'0') {
        return Err(start);
    }
    if *i < b.len() && b[*i] == b'.' {
        *i += 1;
        if digits(i) == 0 {
            return Err(*i);
        }
    }
    if *i < b.len() && (b[*i] == b'e' || b[*i] == b'E') {
        *i += 1;
        if *i < b.len() && (b[*i] == b'+' || b[*i] == b'-') {
            *i += 1;
        }
        if digits(i) == 0 {
            return Err(*i);
        }
    }
    Ok(())
}
