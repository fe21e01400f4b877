//! A bound on log lines that input can trigger: one record of a kind per interval, and a count
//! of the records held back, told with the next one that goes out. A server that sends junk
//! at full speed costs a line a second, not a line per junk line.

use std::time::{Duration, Instant, SystemTime};

/// How often one kind of record may be logged.
pub(crate) const LOG_INTERVAL: Duration = Duration::from_secs(1);
/// Kinds tracked at once; a new kind beyond this replaces the one logged longest ago.
const MAX_KINDS: usize = 16;

struct Slot {
    kind: u32,
    last: Instant,
    held: u64,
    held_since: Option<SystemTime>,
}

/// Per-kind log rate limits.
pub(crate) struct LogLimit {
    interval: Duration,
    slots: Vec<Slot>,
}

/// What [`LogLimit::check`] lets through: print it after the message. Empty when nothing was
/// held back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Held {
    count: u64,
    since: Option<SystemTime>,
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.count == 0 {
            return Ok(());
        }
        write!(f, " ({} more", thousands(self.count))?;
        if let Some(since) = self.since {
            write!(
                f,
                " since {}",
                super::datetime::format_rfc3339_seconds(since)
            )?;
        }
        f.write_str(")")
    }
}

/// `12031` as `12,031`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Default for LogLimit {
    fn default() -> Self {
        LogLimit::new(LOG_INTERVAL)
    }
}

impl LogLimit {
    /// At most one record of a kind per `interval`.
    pub(crate) fn new(interval: Duration) -> Self {
        LogLimit {
            interval,
            slots: Vec::new(),
        }
    }

    /// Whether a record of `kind` may be logged now: `Some` with what was held back since the
    /// last one, or `None` (it is counted).
    pub(crate) fn check(&mut self, kind: u32) -> Option<Held> {
        self.check_at(kind, Instant::now())
    }

    fn check_at(&mut self, kind: u32, now: Instant) -> Option<Held> {
        if let Some(slot) = self.slots.iter_mut().find(|s| s.kind == kind) {
            if now.saturating_duration_since(slot.last) < self.interval {
                slot.held += 1;
                slot.held_since.get_or_insert_with(SystemTime::now);
                return None;
            }
            slot.last = now;
            return Some(Held {
                count: std::mem::take(&mut slot.held),
                since: slot.held_since.take(),
            });
        }
        let slot = Slot {
            kind,
            last: now,
            held: 0,
            held_since: None,
        };
        if self.slots.len() < MAX_KINDS {
            self.slots.push(slot);
        } else if let Some(oldest) = self.slots.iter_mut().min_by_key(|s| s.last) {
            *oldest = slot;
        }
        Some(Held {
            count: 0,
            since: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_record_per_kind_and_interval_and_a_count_of_the_rest() {
        let mut limit = LogLimit::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(limit.check_at(1, t0).unwrap().to_string(), "");
        for i in 0..12_031 {
            assert!(limit.check_at(1, t0 + Duration::from_micros(i)).is_none());
        }
        // Another kind has its own budget.
        assert!(limit.check_at(2, t0).is_some());
        let next = limit.check_at(1, t0 + Duration::from_secs(1)).unwrap();
        assert_eq!(next.count, 12_031);
        let text = next.to_string();
        assert!(text.starts_with(" (12,031 more since 20"), "{text}");
        assert!(text.ends_with("Z)"), "{text}");
        assert_eq!(
            limit
                .check_at(1, t0 + Duration::from_secs(3))
                .unwrap()
                .count,
            0
        );
    }

    #[test]
    fn the_kinds_tracked_are_bounded() {
        let mut limit = LogLimit::new(Duration::from_secs(1));
        let t0 = Instant::now();
        for kind in 0..1000 {
            assert!(limit
                .check_at(kind, t0 + Duration::from_millis(kind.into()))
                .is_some());
        }
        assert!(limit.slots.len() <= MAX_KINDS);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(8_060_000), "8,060,000");
    }
}
