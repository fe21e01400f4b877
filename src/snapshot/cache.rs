//! The cache file format (`persist_path`): one JSON object whose last member is the snapshot
//! JSON itself, embedded as it came from the server, so the file is within a few hundred bytes
//! of the document it holds and `jq .snapshot` gives a document anyone can load.
//!
//! ```text
//! {"format":"flipt-client-snapshot/2","namespace":"default","environment":"default","crc32":123,"snapshot":{…}}
//! ```
//!
//! The CRC-32 covers the bytes of the `snapshot` value exactly as written, so the members come
//! in this order and the file is read as written: a reformatted file is refused with a hint.
//! Files of the first format (`flipt-client-snapshot/1`, a base64 seed in a string) still load.

use crate::error::SnapshotError;
use crate::util::crc32::crc32;
use crate::util::json::write_str;
use crate::util::read_limited;

use super::Snapshot;

/// The format this crate writes.
pub(crate) const FORMAT: &str = "flipt-client-snapshot/2";
/// The first format, read for files written by earlier versions.
const FORMAT_V1: &str = "flipt-client-snapshot/1";
/// Where the embedded snapshot starts. Inside a JSON string a `"` is always escaped, so the
/// first occurrence is the member itself.
const MARKER: &str = ",\"snapshot\":";
/// The most the members before the snapshot may take: what a file may exceed the snapshot
/// size limit by.
pub(crate) const MAX_HEADER: u64 = 64 * 1024;

#[derive(miniserde::Deserialize)]
struct Header {
    format: String,
    namespace: String,
    environment: String,
    crc32: u32,
}

#[derive(miniserde::Deserialize)]
struct FileV1 {
    format: String,
    namespace: String,
    environment: String,
    crc32: u32,
    snapshot: String,
}

/// A loaded cache file.
#[derive(Debug)]
#[cfg_attr(not(feature = "net"), allow(dead_code))]
pub(crate) struct Cached {
    /// The namespace and environment the writing client was configured with.
    pub namespace: String,
    pub environment: String,
    pub snapshot: Snapshot,
    /// The size of the embedded snapshot JSON (for v1 files, of its base64 text).
    pub snapshot_len: usize,
}

/// The contents of a snapshot file of at most `limit` bytes; a cache file may exceed that by
/// its header ([`MAX_HEADER`]), so that a snapshot under the limit always reloads.
pub(crate) fn read_file(path: &std::path::Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let bytes = read_limited(path, limit.saturating_add(MAX_HEADER))?;
    if bytes.len() as u64 > limit && !is_cache(&bytes) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "file of {} bytes exceeds the limit of {limit} bytes",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

/// Whether `text` is a cache file: a JSON object whose first member is `"format"`.
pub(crate) fn is_cache(text: &[u8]) -> bool {
    let rest = text.trim_ascii_start();
    rest.strip_prefix(b"{")
        .is_some_and(|r| r.trim_ascii_start().starts_with(b"\"format\""))
}

/// The file text for `snapshot_json` (a server document or the engine's JSON, compact or
/// not), written by a client for `namespace` in `environment`.
#[cfg_attr(not(feature = "net"), allow(dead_code))]
pub(crate) fn encode(namespace: &str, environment: &str, snapshot_json: &str) -> String {
    let mut text = String::with_capacity(snapshot_json.len() + 160);
    text.push_str("{\"format\":\"");
    text.push_str(FORMAT);
    text.push_str("\",\"namespace\":");
    write_str(&mut text, namespace);
    text.push_str(",\"environment\":");
    write_str(&mut text, environment);
    text.push_str(",\"crc32\":");
    text.push_str(&crc32(snapshot_json.as_bytes()).to_string());
    text.push_str(MARKER);
    text.push_str(snapshot_json);
    text.push_str("}\n");
    text
}

/// The most that [`encode`] puts before the snapshot (the checksum takes 1 to 10 digits).
#[cfg_attr(not(feature = "net"), allow(dead_code))]
pub(crate) fn header_len(namespace: &str, environment: &str) -> usize {
    // The CRC-32 of nothing is 0: one digit.
    encode(namespace, environment, "").len() - "0}\n".len() + 10
}

/// Reads a cache file: checks its format and checksum, compiles the snapshot, and checks that
/// the snapshot belongs to the namespace the file names.
pub(crate) fn decode(text: &str) -> Result<Cached, SnapshotError> {
    let whole = |m: &str| SnapshotError::whole(format!("persisted snapshot: {m}"));
    let Some(at) = text.find(MARKER) else {
        return match miniserde::json::from_str::<FileV1>(text) {
            Ok(v1) => decode_v1(v1),
            Err(_) => Err(whole("no `snapshot` member (corrupt or truncated)")),
        };
    };
    let head = format!("{}}}", &text[..at]);
    let header: Header = miniserde::json::from_str(&head).map_err(|_| {
        match miniserde::json::from_str::<FileV1>(text) {
            Ok(_) => whole("unreadable members before `snapshot`"),
            Err(_) => whole(
                "not in the layout this crate writes (corrupt, or reformatted: the members \
                 must come as written; `jq .snapshot` extracts a document that loads)",
            ),
        }
    })?;
    if header.format == FORMAT_V1 {
        let v1: FileV1 = miniserde::json::from_str(text)
            .map_err(|_| whole("format 1 file is corrupt or truncated"))?;
        return decode_v1(v1);
    }
    if header.format != FORMAT {
        return Err(whole(&format!("unknown format {:?}", header.format)));
    }
    let body = text[at + MARKER.len()..]
        .trim_end()
        .strip_suffix('}')
        .ok_or_else(|| whole("the file does not end with `}` (truncated)"))?
        .trim_end();
    if crc32(body.as_bytes()) != header.crc32 {
        return Err(whole("checksum mismatch (corrupt)"));
    }
    let snapshot = if body.contains("\"eval_rules\"") {
        Snapshot::from_engine_json(body)
    } else {
        Snapshot::from_document(body)
    }
    .map_err(|e| e.within("snapshot"))?;
    finish(header.namespace, header.environment, snapshot, body.len())
}

fn decode_v1(file: FileV1) -> Result<Cached, SnapshotError> {
    let whole = |m: &str| SnapshotError::whole(format!("persisted snapshot: {m}"));
    if file.format != FORMAT_V1 {
        return Err(whole(&format!("unknown format {:?}", file.format)));
    }
    if crc32(file.snapshot.as_bytes()) != file.crc32 {
        return Err(whole("checksum mismatch (corrupt)"));
    }
    let snapshot = Snapshot::from_base64(&file.snapshot).map_err(|e| e.within("snapshot"))?;
    let len = file.snapshot.len();
    finish(file.namespace, file.environment, snapshot, len)
}

fn finish(
    namespace: String,
    environment: String,
    snapshot: Snapshot,
    snapshot_len: usize,
) -> Result<Cached, SnapshotError> {
    if snapshot.namespace() != namespace {
        return Err(SnapshotError::at(
            "namespace",
            format!(
                "persisted snapshot: the file names namespace {namespace:?} but holds a snapshot of {:?}",
                snapshot.namespace()
            ),
        ));
    }
    Ok(Cached {
        namespace,
        environment,
        snapshot,
        snapshot_len,
    })
}

/// The document inside a stream line `{"result": <document>}` (whitespace allowed), if the
/// line is exactly that; `None` for a line with other members.
#[cfg_attr(not(feature = "net"), allow(dead_code))]
pub(crate) fn stream_document(line: &str) -> Option<&str> {
    let inner = line
        .trim()
        .strip_prefix('{')?
        .trim_start()
        .strip_prefix("\"result\"")?
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_suffix('}')?
        .trim_end();
    (object_end(inner.as_bytes()) == Some(inner.len())).then_some(inner)
}

/// The end (exclusive) of the JSON object that `s` starts with.
fn object_end(s: &[u8]) -> Option<usize> {
    if s.first() != Some(&b'{') {
        return None;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in s.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = include_str!("../../examples/data/snapshot.json");

    #[test]
    fn a_file_round_trips_and_is_the_size_of_its_document() {
        let text = encode("default", "prod", DOC.trim());
        assert!(is_cache(text.as_bytes()));
        assert!(text.len() <= DOC.trim().len() + header_len("default", "prod") + 2);
        assert!(text.len() >= DOC.trim().len() + header_len("default", "prod") - 9 + 2);
        let c = decode(&text).unwrap();
        assert_eq!(
            (c.namespace.as_str(), c.environment.as_str()),
            ("default", "prod")
        );
        assert_eq!(c.snapshot.len(), 2);
        assert_eq!(c.snapshot_len, DOC.trim().len());
        // Engine JSON embeds as well.
        let s = Snapshot::parse(DOC).unwrap();
        let c = decode(&encode("default", "prod", &s.to_engine_json())).unwrap();
        assert_eq!(c.snapshot.to_engine_json(), s.to_engine_json());
    }

    #[test]
    fn names_with_quotes_never_confuse_the_marker() {
        let env = r#"a","snapshot":{"#;
        let c = decode(&encode("default", env, DOC.trim())).unwrap();
        assert_eq!(c.environment, env);
    }

    #[test]
    fn damage_is_reported_not_loaded() {
        let text = encode("default", "default", DOC.trim());
        let flipped = text.replacen("checkout-theme", "checkout-thema", 1);
        assert!(decode(&flipped)
            .unwrap_err()
            .to_string()
            .contains("checksum"));
        let cut = &text[..text.len() / 2];
        assert!(decode(cut).is_err());
        let pretty = text.replacen("{\"format\"", "{\n  \"format\"", 1);
        assert!(
            decode(&pretty).is_ok(),
            "whitespace before the first member is fine"
        );
        let reordered = text.replacen(
            "\"namespace\":\"default\",\"environment\":\"default\"",
            "\"environment\":\"default\",\"namespace\":\"default\"",
            1,
        );
        assert!(decode(&reordered).is_ok());
        let foreign = encode("other", "default", DOC.trim());
        assert!(decode(&foreign)
            .unwrap_err()
            .to_string()
            .contains("holds a snapshot of"));
    }

    #[test]
    fn stream_lines_give_their_document_only_when_that_is_all_they_hold() {
        assert_eq!(
            stream_document(r#"{"result":{"a":"}"}}"#),
            Some(r#"{"a":"}"}"#)
        );
        assert_eq!(
            stream_document(" { \"result\" : {\"a\":[1,{}]} } "),
            Some("{\"a\":[1,{}]}")
        );
        assert_eq!(stream_document(r#"{"result":{"a":1},"b":{}}"#), None);
        assert_eq!(stream_document(r#"{"other":{}}"#), None);
        assert_eq!(
            stream_document(r#"{"result":{"a":"\"}"}}"#),
            Some(r#"{"a":"\"}"}"#)
        );
    }
}
