//! RFC 3339 timestamps to Unix seconds, accepting exactly what the engine's parser (chrono's
//! `DateTime::parse_from_rfc3339`) accepts (docs/EVALUATION.md §7.4). No allocation.

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

/// The civil date of a day count from 1970-01-01 (the inverse of `days_from_civil`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `at` as UTC RFC 3339 with `Z` and 0, 3, 6 or 9 fraction digits, as the engine (chrono)
/// writes its result timestamps, e.g. `2025-06-01T12:34:56.080390779Z`.
pub(crate) fn format_rfc3339(at: std::time::SystemTime) -> String {
    let since = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    let nanos = since.subsec_nanos();
    if nanos != 0 {
        if nanos % 1_000_000 == 0 {
            out.push_str(&format!(".{:03}", nanos / 1_000_000));
        } else if nanos % 1_000 == 0 {
            out.push_str(&format!(".{:06}", nanos / 1_000));
        } else {
            out.push_str(&format!(".{nanos:09}"));
        }
    }
    out.push('Z');
    out
}

/// `at` as UTC RFC 3339 to the second, e.g. `2025-06-01T12:34:56Z`, for log lines.
pub(crate) fn format_rfc3339_seconds(at: std::time::SystemTime) -> String {
    let whole = at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| std::time::UNIX_EPOCH + std::time::Duration::from_secs(d.as_secs()))
        .unwrap_or(std::time::UNIX_EPOCH);
    format_rfc3339(whole)
}

/// Bytes 0–7 of the head, `YYYY-MM-`: which are digits, and what the others hold.
const DATE_DIGITS: u64 = 0x00FF_FF00_FFFF_FFFF;
const DATE_SEPARATORS: u64 = (b'-' as u64) << 32 | (b'-' as u64) << 56;
/// Bytes 8–15, `DDTHH:MM` (byte 10, the `T`, is checked on its own).
const TIME_DIGITS: u64 = 0xFFFF_00FF_FF00_FFFF;
const TIME_SEPARATORS: u64 = (b':' as u64) << 40;
/// Every byte `'0'`.
const ZEROS: u64 = 0x3030_3030_3030_3030;
const LOW_NIBBLES: u64 = 0x0F0F_0F0F_0F0F_0F0F;

/// `w` XOR `'0'` in every byte, if the bytes in `digits` are ASCII digits and the others equal
/// those of `separators`; the digit bytes then hold their values.
#[inline(always)]
fn digits_and_separators(w: u64, digits: u64, separators: u64) -> Option<u64> {
    let d = (w ^ ZEROS) & digits;
    // A digit byte is 0–9: at most 15, and still at most 15 with 6 added.
    let ok = d & !LOW_NIBBLES == 0
        && (d + (0x0606_0606_0606_0606 & digits)) & !LOW_NIBBLES == 0
        && w & !digits == separators;
    ok.then_some(d)
}

/// The number of two digit bytes at byte `at` (the first the tens).
#[inline(always)]
fn pair(d: u64, at: u32) -> u32 {
    let b = (d >> (8 * at)) as u32;
    (b & 0xFF) * 10 + ((b >> 8) & 0xFF)
}

/// Days in each month of a common year (index 1–12).
const MONTH_DAYS: [u8; 13] = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// Parses `YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|±HH:MM)` into whole Unix seconds
/// (the fraction is dropped; a leap second `:60` counts as `:59`). `None` if invalid.
///
/// The fixed-width head is checked and read eight bytes at a time.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let bytes = s.as_bytes();
    let head: &[u8; 19] = bytes.get(..19)?.try_into().ok()?;
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&head[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let date = digits_and_separators(word(0), DATE_DIGITS, DATE_SEPARATORS)?;
    // Byte 10, the date-time separator, is masked out here and checked below.
    let time = digits_and_separators(word(8) & !(0xFF << 16), TIME_DIGITS, TIME_SEPARATORS)?;
    let (s1, s2) = (head[17].wrapping_sub(b'0'), head[18].wrapping_sub(b'0'));
    if !matches!(head[10], b'T' | b't' | b' ') || head[16] != b':' || s1 > 9 || s2 > 9 {
        return None;
    }
    let year = pair(date, 0) * 100 + pair(date, 2);
    let (month, day) = (pair(date, 5), pair(time, 0));
    let (hour, minute) = (pair(time, 3), pair(time, 6));
    let second = u32::from(s1) * 10 + u32::from(s2);
    let offset = fraction_and_offset(&bytes[19..])?;
    let leap_day = u32::from(month == 2 && is_leap(i64::from(year)));
    let dim = u32::from(*MONTH_DAYS.get(month as usize)?) + leap_day;
    if month == 0 || day == 0 || day > dim || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let second = second.min(59);
    let days = days_from_civil(i64::from(year), month, day);
    Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset)
}

/// What follows the 19-byte head: an optional `.fraction` (dropped), then `Z`, `z` or an offset;
/// the offset in seconds.
fn fraction_and_offset(mut rest: &[u8]) -> Option<i64> {
    if let [b'.', tail @ ..] = rest {
        let digits = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = &tail[digits..];
    }
    match rest {
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => offset(*sign == b'-', [*h1, *h2, *m1, *m2]),
        // U+2212 MINUS SIGN, which chrono's RFC 3339 parser also takes as a negative offset.
        [0xE2, 0x88, 0x92, h1, h2, b':', m1, m2] => offset(true, [*h1, *h2, *m1, *m2]),
        _ => None,
    }
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
    fn formats_like_the_engine_and_parses_back() {
        use std::time::{Duration, UNIX_EPOCH};
        let at = |s: u64, n: u32| super::format_rfc3339(UNIX_EPOCH + Duration::new(s, n));
        assert_eq!(at(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(at(1_704_067_200, 500_000_000), "2024-01-01T00:00:00.500Z");
        assert_eq!(at(1_709_164_800, 1_000), "2024-02-29T00:00:00.000001Z");
        // The formatter writes what the clock holds. Windows keeps `SystemTime` in 100 ns
        // ticks, so a time has at most 7 significant fraction digits there, written as 9 (the
        // engine's clock has the same ticks there).
        let expected = if cfg!(windows) {
            "2025-06-01T12:34:56.080390700Z"
        } else {
            "2025-06-01T12:34:56.080390779Z"
        };
        assert_eq!(at(1_748_781_296, 80_390_779), expected);
        // Whole microseconds and milliseconds are exact everywhere.
        assert_eq!(at(1_748_781_296, 80_390_000), "2025-06-01T12:34:56.080390Z");
        for secs in (0..4_102_444_800u64).step_by(86_399 * 37) {
            assert_eq!(p(&at(secs, 0)), Some(secs as i64), "{}", at(secs, 0));
        }
    }

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

    /// The field-by-field head parser this one replaced, kept as the oracle of
    /// `agrees_with_the_field_by_field_parser`.
    fn reference(s: &str) -> Option<i64> {
        let two = |b: &[u8; 19], i: usize| {
            let (hi, lo) = (b[i].wrapping_sub(b'0'), b[i + 1].wrapping_sub(b'0'));
            (hi < 10 && lo < 10).then(|| u32::from(hi) * 10 + u32::from(lo))
        };
        let bytes = s.as_bytes();
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
        // What follows the head is read by the same code as in `parse_rfc3339`.
        let offset = super::fraction_and_offset(&bytes[19..])?;
        let dim = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if super::is_leap(i64::from(year)) => 29,
            2 => 28,
            _ => return None,
        };
        if day == 0 || day > dim || hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let second = second.min(59);
        let days = super::days_from_civil(i64::from(year), month, day);
        Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset)
    }

    /// Every byte of the head replaced by each of a set of interesting bytes (digits, every
    /// separator, their neighbours and the bytes that break naive digit tests), on valid
    /// timestamps of every month: both parsers agree.
    #[test]
    fn agrees_with_the_field_by_field_parser() {
        let bytes: Vec<u8> = (0u8..=0x7F).chain([0x80, 0xC0, 0xE2, 0xFF]).collect();
        let mut compared = 0;
        for base in [
            "2024-01-31T23:59:59Z",
            "2023-02-28T12:00:00.5+01:30",
            "2024-02-29 00:00:60z",
            "1999-12-31t09:08:07-23:59",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2025-06-15T12:00:00Z",
        ] {
            for at in 0..19 {
                for &b in &bytes {
                    let mut v = base.as_bytes().to_vec();
                    v[at] = b;
                    let text = String::from_utf8_lossy(&v);
                    assert_eq!(p(&text), reference(&text), "{text:?}");
                    compared += 1;
                }
            }
        }
        // Every month and day number, valid or not.
        for month in 0..=13 {
            for day in 0..=32 {
                for year in [1900, 2000, 2023, 2024] {
                    let text = format!("{year:04}-{month:02}-{day:02}T01:02:03Z");
                    assert_eq!(p(&text), reference(&text), "{text}");
                    compared += 1;
                }
            }
        }
        assert!(compared > 10_000);
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
