//! String equality tuned for the short keys and values of flag evaluation: inline word
//! compares instead of a call into `memcmp`, which dominated evaluation profiles.

#[inline(always)]
fn word8(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(w)
}

#[inline(always)]
fn word4(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_ne_bytes(w)
}

/// `a == b`, faster for strings of up to 16 bytes.
#[inline(always)]
pub(crate) fn str_eq(a: &str, b: &str) -> bool {
    bytes_eq(a.as_bytes(), b.as_bytes())
}

/// `hay` starts with `needle`.
#[inline(always)]
pub(crate) fn starts_with(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    h.len() >= n.len() && bytes_eq(&h[..n.len()], n)
}

/// `hay` ends with `needle`.
#[inline(always)]
pub(crate) fn ends_with(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    h.len() >= n.len() && bytes_eq(&h[h.len() - n.len()..], n)
}

/// `needle` occurs in `hay`: a direct scan for the short strings of contexts, the standard
/// library's searcher for long ones.
#[inline]
pub(crate) fn contains(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return true;
    }
    if n.len() > h.len() {
        return false;
    }
    if h.len() > 64 {
        return hay.contains(needle);
    }
    let first = n[0];
    (0..=h.len() - n.len()).any(|i| h[i] == first && bytes_eq(&h[i..i + n.len()], n))
}

/// Byte-slice equality, faster for up to 16 bytes.
#[inline(always)]
pub(crate) fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4),
        8..=16 => word8(a, 0) == word8(b, 0) && word8(a, n - 8) == word8(b, n - 8),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::str_eq;

    #[test]
    fn agrees_with_eq_on_all_short_lengths() {
        let base = "abcdefghijklmnopqrstuvwxyz0123456789";
        for n in 0..base.len() {
            let a = &base[..n];
            assert!(str_eq(a, a));
            for i in 0..n {
                let mut b = a.as_bytes().to_vec();
                b[i] = b'#';
                let b = String::from_utf8(b).unwrap();
                assert!(!str_eq(a, &b), "{a} vs {b}");
            }
            assert!(!str_eq(a, &base[..n + 1]));
        }
    }

    #[test]
    fn search_helpers_agree_with_std() {
        let words = [
            "",
            "a",
            "ab",
            "abc",
            "aab",
            "xaab",
            "ñandú",
            "日本語テキスト",
            "abcabcabcabcabcabcabcabc",
        ];
        let long = "x".repeat(70) + "needle";
        for h in words.iter().copied().chain([long.as_str()]) {
            for n in words
                .iter()
                .copied()
                .chain(["needle", "xneedle", "ú", "本"])
            {
                assert_eq!(super::contains(h, n), h.contains(n), "{h:?} contains {n:?}");
                assert_eq!(
                    super::starts_with(h, n),
                    h.starts_with(n),
                    "{h:?} starts {n:?}"
                );
                assert_eq!(super::ends_with(h, n), h.ends_with(n), "{h:?} ends {n:?}");
            }
        }
    }
}
