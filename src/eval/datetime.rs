//! RFC 3339 timestamps to Unix seconds, accepting exactly what the engine's parser (chrono's
//! `DateTime::parse_from_rfc3339`) accepts (EVALUATION.md §7.4). No allocation.

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

/// Two ASCII digits at `b[i..i + 2]` as a number; `None` if either is not a digit.
#[inline(always)]
fn two(b: &[u8; 19], i: usize) -> Option<u32> {
    let (hi, lo) = (b[i].wrapping_sub(b'0'), b[i + 1].wrapping_sub(b'0'));
    (hi < 10 && lo < 10).then(|| u32::from(hi) * 10 + u32::from(lo))
}

/// Parses `YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|±HH:MM)` into whole Unix seconds
/// (the fraction is dropped; a leap second `:60` counts as `:59`). `None` if invalid.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let bytes = s.as_bytes();
    // The fixed-width head, copied into an array so that the checks below need no bounds tests.
    let head: &[u8; 19] = bytes.get(..19)?.try_into().ok()?;
    if head[4] != b'-'
        || head[7] != b'-'
        || !matches!(head[10], b'T' | b't' | b' ')
        || head[13] != b':'
        || head[16] != b':'
    {
        return None;
    }
    let year = two(head, 0)? * 100 + two(head, 2)?;
    let (month, day) = (two(head, 5)?, two(head, 8)?);
    let (hour, minute, second) = (two(head, 11)?, two(head, 14)?, two(head, 17)?);
    let mut rest = &bytes[19..];
    if let [b'.', tail @ ..] = rest {
        let digits = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = &tail[digits..];
    }
    let offset: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            offset(*sign == b'-', [*h1, *h2, *m1, *m2])?
        }
        // U+2212 MINUS SIGN, which chrono's RFC 3339 parser also takes as a negative offset.
        [0xE2, 0x88, 0x92, h1, h2, b':', m1, m2] => offset(true, [*h1, *h2, *m1, *m2])?,
        _ => return None,
    };
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

/// `±HH:MM` in seconds; hours up to 23 and minutes up to 59.
fn offset(negative: bool, d: [u8; 4]) -> Option<i64> {
    let digit = |c: u8| c.is_ascii_digit().then(|| u32::from(c - b'0'));
    let (h, m) = (
        digit(d[0])? * 10 + digit(d[1])?,
        digit(d[2])? * 10 + digit(d[3])?,
    );
    if h > 23 || m > 59 {
        return None;
    }
    let secs = i64::from(h * 3600 + m * 60);
    Some(if negative { -secs } else { secs })
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
        assert_eq!(p("2024-01-01T00:00:00\u{2212}01:00"), Some(1_704_070_800));
        assert_eq!(p("0000-01-01T00:00:00Z"), Some(-62_167_219_200));
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
            "2024-01-01T00:00:00+01:0",
            "2024-01-01T00:00:00+01:000",
            "2024-01-01T00:00:00ZZ",
            "2024-1-01T00:00:00Z",
            "+2024-01-01T00:00:00Z",
            "",
        ] {
            assert_eq!(p(s), None, "{s}");
        }
    }
}
