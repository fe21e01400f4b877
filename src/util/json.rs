//! Writing JSON text by hand (the export, the envelopes and the persisted file build their
//! JSON directly rather than through a serialiser).

use std::fmt::Write;

/// Appends `s` as a JSON string literal (escaping like serde_json: quotes, backslashes and
/// control characters; everything else verbatim).
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut last = 0;
    for (i, c) in s.char_indices() {
        let esc = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push_str(esc);
        }
        last = i + c.len_utf8();
    }
    out.push_str(&s[last..]);
    out.push('"');
}
