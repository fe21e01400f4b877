//! RFC 3339 timestamps to Unix seconds, accepting exactly what the engine's parser (chrono's
//! `DateTime::parse_from_rfc3339`) accepts (EVALUATION.md §7.4). No allocation.

fn digits2(b: &[u8], i: usize) -> Option<u32> {
    let (a, c) = (*b.get(i)?, *b.get(i + 1)?);
    (a.is_ascii_digit() && c.is_ascii_digit()).then(|| u32::from(a - b'0') * 10 + u32::from(c - b'0'))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|±HH:MM)` into whole Unix seconds
/// (the fraction is dropped; a leap second `:60` counts as `:59`). `None` if invalid.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let year = digits2(b, 0)? * 100 + digits2(b, 2)?;
    if b.get(4) != Some(&b'-') {
        return None;
    }
    let month = digits2(b, 5)?;
    if b.get(7) != Some(&b'-') {
        return None;
    }
    let day = digits2(b, 8)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = digits2(b, 11)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let minute = digits2(b, 14)?;
    if b.get(16) != Some(&b':') {
        return None;
    }
    let second = digits2(b, 17)?;
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset: i64 = match b.get(i)? {
        b'Z' | b'z' => {
            i += 1;
            0
        }
        &sign @ (b'+' | b'-') => {
            let h = digits2(b, i + 1)?;
            if b.get(i + 3) != Some(&b':') {
                return None;
            }
            let m = digits2(b, i + 4)?;
            if h > 23 || m > 59 {
                return None;
            }
            i += 6;
            let secs = i64::from(h * 3600 + m * 60);
            if sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        // U+2212 MINUS SIGN, which chrono's RFC 3339 parser also takes as a negative offset.
        0xE2 if b[i..].starts_with("\u{2212}".as_bytes()) => {
            let j = i + 3;
            let h = digits2(b, j)?;
            if b.get(j + 2) != Some(&b':') {
                return None;
            }
            let m = digits2(b, j + 3)?;
            if h > 23 || m > 59 {
                return None;
            }
            i = j + 5;
            -i64::from(h * 3600 + m * 60)
        }
        _ => return None,
    };
    if i != b.len() {
        return None;
    }
    let dim = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(i64::from(year)) => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > dim || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let second = second.min(59);
    let days = days_from_civil(i64::from(year), month, day);
    Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset)
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339 as p;

    #[test]
    fn accepts_rfc3339_variants() {
        assert_eq!(p("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(p("2024-01-01T00:00:00Z"), Some(1_704_067_200));
        assert_eq!(p("2024-01-01t00:00:00z"), Some(1_704_067_200));
        assert_eq!(p("2024-01-01 00:00:00Z"), Some(1_704_067_200));
        assert_eq!(p("2024-01-01T01:00:00+01:00"), Some(1_704_067_200));
        assert_eq!(p("2024-01-01T00:00:00-00:00"), Some(1_704_067_200));
        assert_eq!(p("2024-01-01T00:00:00.999Z"), Some(1_704_067_200));
        assert_eq!(p("2024-01-01T00:00:00.123456789123Z"), Some(1_704_067_200));
        assert_eq!(p("2023-12-31T23:59:60Z"), p("2023-12-31T23:59:59Z"));
        assert_eq!(p("1969-12-31T23:59:59Z"), Some(-1));
        assert_eq!(p("2024-02-29T00:00:00Z"), Some(1_709_164_800));
    }

    #[test]
    fn rejects_everything_else() {
        for s in [
            "2024-01-01",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00Z",
            "2024-01-01T00:00:00+0100",
            "2024-01-01T00:00:00 Z",
            "2024-01-01T00:00:00,5Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00+24:00",
            "2024-01-01T00:00:00+01:60",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:61Z",
            " 2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00Z ",
            "",
        ] {
            assert_eq!(p(s), None, "{s}");
        }
    }
}
