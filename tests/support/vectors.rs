//! Loading the conformance vectors and comparing answers the way their README prescribes.

#![allow(dead_code)]

use serde_json::Value;

/// Every vector file in `tests/fixtures/`, by name.
pub fn files() -> Vec<(String, Value)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 5,
        "expected the conformance vector files in {dir}"
    );
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read fixture");
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, serde_json::from_str(&text).expect("fixture JSON"))
        })
        .collect()
}

/// Applies the normalisation rules of the vectors' README to an envelope of a `kind` case.
pub fn normalise(kind: &str, v: &mut Value) {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("timestamp");
                m.remove("request_duration_millis");
                if let Some(Value::Array(keys)) = m.get_mut("segment_keys") {
                    keys.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                }
                m.values_mut().for_each(walk);
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(v);
    if kind == "list_flags" {
        if let Some(Value::Array(a)) = v.get_mut("result") {
            a.sort_by(|x, y| x["key"].as_str().cmp(&y["key"].as_str()));
        }
    }
}

/// JSON equality with numbers compared as f32 (the snapshot export's rollouts).
fn same_f32(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().map(|v| v as f32) == y.as_f64().map(|v| v as f32)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_f32(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_f32(v, w)))
        }
        _ => a == b,
    }
}

/// Compares our envelope text with a case's expected envelope; `Err` explains a mismatch.
pub fn check(case: &Value, ours: &str) -> Result<(), String> {
    let kind = case["type"].as_str().unwrap_or_default();
    let mut expected = case["expected"].clone();
    normalise(kind, &mut expected);
    let mut got: Value =
        serde_json::from_str(ours).map_err(|e| format!("our output is not JSON ({e}): {ours}"))?;
    normalise(kind, &mut got);
    let same = if kind == "snapshot" {
        same_f32(&got, &expected)
    } else {
        got == expected
    };
    if same {
        Ok(())
    } else {
        Err(format!("expected {expected}\n  got      {got}"))
    }
}

/// The string values of a request's `context` (absent = empty), in any collection of pairs.
pub fn context<T: FromIterator<(String, String)>>(req: &Value) -> T {
    match req.get("context") {
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect(),
        _ => std::iter::empty().collect(),
    }
}
