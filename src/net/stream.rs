//! The streaming endpoint's framing: newline-delimited JSON, lines possibly split across reads
//! (docs/PROTOCOL.md §6.2). A trailing `\r` is removed; bytes left at the end form a last line.

/// Longest line accepted by default (the default `max_snapshot_size`); a longer one is
/// dropped and reported rather than buffered forever.
pub(crate) const MAX_LINE: usize = 64 * 1024 * 1024;

/// Reassembles lines from arbitrary chunks.
pub(crate) struct LineFramer {
    buf: Vec<u8>,
    /// Set while discarding the rest of an over-long line.
    overflow: bool,
    /// Longest line kept.
    limit: usize,
}

impl Default for LineFramer {
    fn default() -> Self {
        LineFramer::with_limit(MAX_LINE)
    }
}

/// One item produced by the framer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// A complete line, without its line ending.
    Line(&'a [u8]),
    /// A line longer than the limit was dropped.
    TooLong,
}

impl LineFramer {
    /// A framer with an empty buffer.
    pub(crate) fn new() -> Self {
        LineFramer::default()
    }

    /// A framer that drops lines longer than `limit` bytes.
    pub(crate) fn with_limit(limit: usize) -> Self {
        LineFramer {
            buf: Vec::new(),
            overflow: false,
            limit,
        }
    }

    /// Feeds a chunk; `each` is called for every line it completes.
    pub(crate) fn push(&mut self, mut chunk: &[u8], mut each: impl FnMut(Frame<'_>)) {
        let limit = self.limit;
        self.push_limited(&mut chunk, limit, &mut each)
    }

    fn push_limited(&mut self, chunk: &mut &[u8], limit: usize, each: &mut impl FnMut(Frame<'_>)) {
        while let Some(pos) = chunk.iter().position(|&b| b == b'\n') {
            let (head, rest) = chunk.split_at(pos);
            *chunk = &rest[1..];
            if self.overflow {
                self.overflow = false;
                continue;
            }
            if self.buf.len() + head.len() > limit {
                // A whole over-long line can arrive in one chunk, too.
                self.buf.clear();
                each(Frame::TooLong);
                continue;
            }
            if self.buf.is_empty() {
                each(Frame::Line(trim_cr(head)));
            } else {
                self.buf.extend_from_slice(head);
                each(Frame::Line(trim_cr(&self.buf)));
                self.buf.clear();
            }
        }
        if self.overflow {
            return;
        }
        if self.buf.len() + chunk.len() > limit {
            self.buf = Vec::new();
            self.overflow = true;
            each(Frame::TooLong);
        } else {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// Ends the input: yields the unterminated last line, if any.
    pub(crate) fn finish(&mut self, mut each: impl FnMut(Frame<'_>)) {
        if !self.overflow && !self.buf.is_empty() {
            each(Frame::Line(trim_cr(&self.buf)));
        }
        self.buf.clear();
        self.overflow = false;
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut f = LineFramer::new();
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, |fr| {
                if let Frame::Line(l) = fr {
                    out.push(l.to_vec())
                }
            });
        }
        f.finish(|fr| {
            if let Frame::Line(l) = fr {
                out.push(l.to_vec())
            }
        });
        out
    }

    #[test]
    fn every_split_gives_the_same_lines() {
        let input: &[u8] = b"{\"a\":1}\r\n{\"b\":2}\n\n{\"c\":3}";
        let want = lines(&[input]);
        assert_eq!(
            want,
            vec![
                b"{\"a\":1}".to_vec(),
                b"{\"b\":2}".to_vec(),
                b"".to_vec(),
                b"{\"c\":3}".to_vec()
            ]
        );
        for i in 0..input.len() {
            for j in i..input.len() {
                assert_eq!(
                    lines(&[&input[..i], &input[i..j], &input[j..]]),
                    want,
                    "split {i} {j}"
                );
            }
        }
    }

    #[test]
    fn over_long_lines_are_dropped() {
        let mut f = LineFramer::new();
        let mut got = Vec::new();
        let mut each = |fr: Frame<'_>| {
            got.push(match fr {
                Frame::Line(l) => String::from_utf8_lossy(l).into_owned(),
                Frame::TooLong => "<too long>".into(),
            })
        };
        let mut chunk: &[u8] = b"abcdefghij";
        f.push_limited(&mut chunk, 4, &mut each);
        let mut chunk: &[u8] = b"klm\nok\n";
        f.push_limited(&mut chunk, 4, &mut each);
        let mut chunk: &[u8] = b"abcdefgh\nfine\n";
        f.push_limited(&mut chunk, 4, &mut each);
        assert_eq!(got, ["<too long>", "ok", "<too long>", "fine"]);
    }
}
