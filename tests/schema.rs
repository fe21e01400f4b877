//! The snapshot schema is stated twice: by the deserialising types and by the diagnosis that
//! names the offending field. Removing any field of the sample documents must either leave a
//! valid document (the field is optional) or be reported at exactly that field's path, in
//! both formats (the server's document and the engine's JSON).

use flipt_client::{Snapshot, SnapshotError};
use serde_json::Value;

/// Every field of `value` with its path in the diagnosis's notation: `.name` for fields,
/// `[i]` for array items, `["key"]` for entries of the engine's maps (objects whose keys are
/// data, listed in `maps`).
fn fields(
    value: &Value,
    path: &str,
    maps: &[&str],
    out: &mut Vec<(String, Vec<PathStep>)>,
    steps: &mut Vec<PathStep>,
) {
    match value {
        Value::Object(o) => {
            let is_map = maps.iter().any(|m| path.ends_with(m));
            for (k, v) in o {
                let child = if is_map {
                    format!("{path}[{}]", serde_json::to_string(k).unwrap())
                } else if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                steps.push(PathStep::Key(k.clone()));
                if !is_map {
                    out.push((child.clone(), steps.clone()));
                }
                fields(v, &child, maps, out, steps);
                steps.pop();
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                steps.push(PathStep::Index(i));
                fields(v, &format!("{path}[{i}]"), maps, out, steps);
                steps.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

/// `doc` without the field at `steps`.
fn without(doc: &Value, steps: &[PathStep]) -> Value {
    let mut doc = doc.clone();
    let mut at = &mut doc;
    for step in &steps[..steps.len() - 1] {
        at = match step {
            PathStep::Key(k) => at.get_mut(k).unwrap(),
            PathStep::Index(i) => at.get_mut(*i).unwrap(),
        };
    }
    if let (Value::Object(o), Some(PathStep::Key(k))) = (at, steps.last()) {
        o.remove(k);
    }
    doc
}

fn check(
    name: &str,
    doc: &Value,
    maps: &[&str],
    parse: fn(&str) -> Result<Snapshot, SnapshotError>,
) {
    let mut all = Vec::new();
    fields(doc, "", maps, &mut all, &mut Vec::new());
    assert!(all.len() > 30, "{name}: only {} fields", all.len());
    let (mut required, mut optional) = (0, 0);
    for (path, steps) in &all {
        let text = without(doc, steps).to_string();
        match parse(&text) {
            Ok(_) => optional += 1,
            Err(e) => {
                required += 1;
                assert_eq!(
                    e.path(),
                    Some(path.as_str()),
                    "{name}: removing {path} was reported as: {e}"
                );
            }
        }
    }
    println!("{name}: {required} required and {optional} optional fields checked");
    assert!(
        required > 10 && optional > 0,
        "{name}: {required} required, {optional} optional"
    );
}

#[test]
fn every_missing_required_field_is_named_by_its_path() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/snapshot.json"
    ))
    .unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    check("server document", &document, &[], Snapshot::from_document);

    let engine: Value =
        serde_json::from_str(&Snapshot::from_document(&text).unwrap().to_engine_json()).unwrap();
    check(
        "engine JSON",
        &engine,
        &[
            "flags",
            "eval_rules",
            "eval_rollouts",
            "eval_distributions",
            "segments",
        ],
        Snapshot::from_engine_json,
    );
}
