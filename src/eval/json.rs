//! Results rendered as the official engine's JSON (docs/EVALUATION.md §12.3), for logs, CLIs and
//! cross-SDK comparisons. This path allocates; the evaluation path does not use it.

use super::result::{
    BatchEvaluation, BatchItem, BooleanEvaluation, ErrorEvaluation, VariantEvaluation,
};
use crate::error::Error;
use crate::snapshot::FlagInfo;
use crate::util::json::write_str;

fn str_array<'a>(out: &mut String, items: impl Iterator<Item = &'a str>) {
    out.push('[');
    for (i, s) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, s);
    }
    out.push(']');
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

impl<S: std::ops::Deref<Target = crate::snapshot::Snapshot>> VariantEvaluation<S> {
    /// The result as the engine's JSON object: `match`, `segment_keys`, `reason`, `flag_key`,
    /// `variant_key`, `variant_attachment` (only when present), `request_duration_millis`.
    ///
    /// ```
    /// # let client = flipt_client::FliptClient::from_snapshot_json(include_str!("../../examples/data/snapshot.json"))?;
    /// let r = client.evaluate_variant("checkout-theme", "user-1", &[("plan", "pro"), ("age", "17")])?;
    /// assert_eq!(
    ///     r.to_json(),
    ///     r#"{"match":false,"segment_keys":[],"reason":"DEFAULT_EVALUATION_REASON","flag_key":"checkout-theme","variant_key":"control","variant_attachment":"null","request_duration_millis":0.0}"#
    /// );
    /// # Ok::<(), flipt_client::Error>(())
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(160);
        self.write_json(&mut out, None);
        out
    }

    /// [`VariantEvaluation::to_json`] with the engine's `timestamp` field, as the C ABI
    /// answers (the official SDKs' models require it).
    #[cfg_attr(not(feature = "ffi"), allow(dead_code))]
    pub(crate) fn to_engine_json(&self, timestamp: &str) -> String {
        let mut out = String::with_capacity(200);
        self.write_json(&mut out, Some(timestamp));
        out
    }

    fn write_json(&self, out: &mut String, timestamp: Option<&str>) {
        out.push_str("{\"match\":");
        out.push_str(bool_str(self.is_match()));
        out.push_str(",\"segment_keys\":");
        str_array(out, self.segment_keys());
        out.push_str(",\"reason\":\"");
        out.push_str(self.reason().as_str());
        out.push_str("\",\"flag_key\":");
        write_str(out, self.flag_key());
        out.push_str(",\"variant_key\":");
        write_str(out, self.variant_key());
        if let Some(a) = self.variant_attachment() {
            out.push_str(",\"variant_attachment\":");
            write_str(out, a);
        }
        out.push_str(",\"request_duration_millis\":0.0");
        write_timestamp(out, timestamp);
        out.push('}');
    }
}

impl<S: std::ops::Deref<Target = crate::snapshot::Snapshot>> BooleanEvaluation<S> {
    /// The result as the engine's JSON object: `enabled`, `flag_key`, `reason`,
    /// `request_duration_millis`, `segment_keys`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(128);
        self.write_json(&mut out, None);
        out
    }

    /// [`BooleanEvaluation::to_json`] with the engine's `timestamp` field.
    #[cfg_attr(not(feature = "ffi"), allow(dead_code))]
    pub(crate) fn to_engine_json(&self, timestamp: &str) -> String {
        let mut out = String::with_capacity(160);
        self.write_json(&mut out, Some(timestamp));
        out
    }

    fn write_json(&self, out: &mut String, timestamp: Option<&str>) {
        out.push_str("{\"enabled\":");
        out.push_str(bool_str(self.is_enabled()));
        out.push_str(",\"flag_key\":");
        write_str(out, self.flag_key());
        out.push_str(",\"reason\":\"");
        out.push_str(self.reason().as_str());
        out.push_str("\",\"request_duration_millis\":0.0");
        write_timestamp(out, timestamp);
        out.push_str(",\"segment_keys\":");
        str_array(out, self.segment_keys());
        out.push('}');
    }
}

impl ErrorEvaluation<'_> {
    fn write_json(&self, out: &mut String) {
        out.push_str("{\"flag_key\":");
        write_str(out, self.flag_key);
        out.push_str(",\"namespace_key\":");
        write_str(out, &self.namespace_key);
        out.push_str(",\"reason\":\"");
        out.push_str(self.reason.as_str());
        out.push_str("\"}");
    }
}

impl BatchEvaluation<'_> {
    /// The batch as the engine's JSON object: `responses` (each with `type` and all three
    /// response keys, the unused ones `null`) and `request_duration_millis`.
    pub fn to_json(&self) -> String {
        self.write_json(None)
    }

    /// [`BatchEvaluation::to_json`] with the engine's `timestamp` in every result.
    #[cfg_attr(not(feature = "ffi"), allow(dead_code))]
    pub(crate) fn to_engine_json(&self, timestamp: &str) -> String {
        self.write_json(Some(timestamp))
    }

    fn write_json(&self, timestamp: Option<&str>) -> String {
        let mut out = String::with_capacity(64 + self.responses.len() * 256);
        out.push_str("{\"responses\":[");
        for (i, item) in self.responses.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"type\":\"");
            out.push_str(item.type_str());
            out.push_str("\",\"boolean_evaluation_response\":");
            match item {
                BatchItem::Boolean(b) => b.write_json(&mut out, timestamp),
                _ => out.push_str("null"),
            }
            out.push_str(",\"variant_evaluation_response\":");
            match item {
                BatchItem::Variant(v) => v.write_json(&mut out, timestamp),
                _ => out.push_str("null"),
            }
            out.push_str(",\"error_evaluation_response\":");
            match item {
                BatchItem::Error(e) => e.write_json(&mut out),
                _ => out.push_str("null"),
            }
            out.push('}');
        }
        out.push_str("],\"request_duration_millis\":0.0}");
        out
    }
}

/// `,"timestamp":"..."` when there is one.
fn write_timestamp(out: &mut String, timestamp: Option<&str>) {
    if let Some(t) = timestamp {
        out.push_str(",\"timestamp\":");
        write_str(out, t);
    }
}

impl FlagInfo {
    /// The flag as the engine's JSON object: `key`, `enabled`, `type`, and `description` and
    /// `default_variant` when present.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(128);
        out.push_str("{\"key\":");
        write_str(&mut out, &self.key);
        out.push_str(",\"enabled\":");
        out.push_str(bool_str(self.enabled));
        out.push_str(",\"type\":\"");
        out.push_str(self.flag_type.as_str());
        out.push('"');
        if let Some(d) = &self.description {
            out.push_str(",\"description\":");
            write_str(&mut out, d);
        }
        if let Some(v) = &self.default_variant {
            out.push_str(",\"default_variant\":{\"id\":");
            write_str(&mut out, &v.id);
            out.push_str(",\"key\":");
            write_str(&mut out, &v.key);
            if let Some(a) = &v.attachment {
                out.push_str(",\"attachment\":");
                write_str(&mut out, a);
            }
            out.push('}');
        }
        out.push('}');
        out
    }
}

/// Wraps a result in the engine's envelope: `{"status":"success","result":...,"error_message":null}`
/// or `{"status":"failure","result":null,"error_message":"..."}`.
///
/// ```
/// # let client = flipt_client::FliptClient::from_snapshot_json(include_str!("../../examples/data/snapshot.json"))?;
/// let r = client.evaluate_boolean("nope", "user-1", &());
/// assert_eq!(
///     flipt_client::json::envelope(r.map(|b| b.to_json())),
///     r#"{"status":"failure","result":null,"error_message":"invalid request: failed to get flag information default/nope"}"#
/// );
/// # Ok::<(), flipt_client::Error>(())
/// ```
pub fn envelope(result: Result<String, Error>) -> String {
    match result {
        Ok(json) => format!("{{\"status\":\"success\",\"result\":{json},\"error_message\":null}}"),
        Err(e) => {
            let mut out =
                String::from("{\"status\":\"failure\",\"result\":null,\"error_message\":");
            write_str(&mut out, &e.to_string());
            out.push('}');
            out
        }
    }
}

/// A list of flags as the engine's JSON array.
pub fn flags_json(flags: &[FlagInfo]) -> String {
    let mut out = String::from("[");
    for (i, f) in flags.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&f.to_json());
    }
    out.push(']');
    out
}
