//! What a snapshot holds that the official engine does not know: loaded exactly as the engine
//! loads it (same answers), but told, once per kind and load, with the path of the first
//! occurrence (docs/EVALUATION.md §4–§7 say what each becomes).

use std::fmt;

/// The kind of a [`SnapshotWarning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WarningKind {
    /// A flag type other than `VARIANT_FLAG_TYPE` and `BOOLEAN_FLAG_TYPE`: evaluated as a
    /// variant flag.
    UnknownFlagType,
    /// A constraint type the engine does not know: a segment that reaches it does not match.
    UnknownConstraintType,
    /// A constraint operator the engine does not know for its type: it never matches.
    UnknownOperator,
    /// A rollout with neither a threshold nor a segment: skipped.
    UnknownRolloutType,
    /// A segment match type other than ALL and ANY: evaluated as ANY.
    UnknownMatchType,
    /// A segment operator other than AND and OR: evaluated as OR.
    UnknownSegmentOperator,
}

impl WarningKind {
    /// How many kinds there are (the last one's index, plus one).
    const COUNT: usize = WarningKind::UnknownSegmentOperator as usize + 1;

    /// The kind's position in declaration order.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Something in a snapshot that the official engine does not know, from
/// [`crate::Snapshot::warnings`]. The snapshot still loads and answers exactly as the engine's.
///
/// ```
/// use flipt_client::{Snapshot, WarningKind};
/// let s = Snapshot::from_document(r#"{"namespace":{"key":"default"},"flags":[
///     {"key":"s","name":"","enabled":true,"type":"STRING_FLAG_TYPE","rules":[]}]}"#)?;
/// let w = &s.warnings()[0];
/// assert_eq!(w.kind(), WarningKind::UnknownFlagType);
/// assert_eq!(w.path(), "flags[0].type");
/// assert_eq!(
///     w.to_string(),
///     r#"flags[0].type: unknown flag type "STRING_FLAG_TYPE", evaluated as a variant flag"#
/// );
/// # Ok::<(), flipt_client::SnapshotError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotWarning {
    kind: WarningKind,
    path: String,
    message: String,
    /// Further occurrences of the same kind.
    more: usize,
}

impl SnapshotWarning {
    /// What kind of thing is unknown.
    pub fn kind(&self) -> WarningKind {
        self.kind
    }

    /// Where its first occurrence is, e.g. `flags[3].rules[0].segments[1].constraints[2].operator`
    /// (for the engine's format, flags are numbered in key order).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What it is and how it is evaluated.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How many more of the same kind the snapshot has.
    pub fn more(&self) -> usize {
        self.more
    }
}

impl fmt::Display for SnapshotWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        if self.more > 0 {
            write!(f, " ({} more like it)", self.more)?;
        }
        Ok(())
    }
}

/// Collects the first warning of each kind while a snapshot is compiled.
#[derive(Default)]
pub(crate) struct Warnings {
    first: [Option<SnapshotWarning>; WarningKind::COUNT],
}

impl Warnings {
    /// Records an occurrence; `describe` (path and message) runs only for the first of a kind.
    pub(crate) fn note(&mut self, kind: WarningKind, describe: impl FnOnce() -> (String, String)) {
        // `get_mut`: a kind added without growing COUNT is dropped, never a panic on input.
        match self.first.get_mut(kind.index()) {
            None => {}
            Some(Some(w)) => w.more += 1,
            Some(slot @ None) => {
                let (path, message) = describe();
                *slot = Some(SnapshotWarning {
                    kind,
                    path: crate::error::capped(path),
                    message: crate::error::capped(message),
                    more: 0,
                });
            }
        }
    }

    pub(crate) fn finish(self) -> Box<[SnapshotWarning]> {
        self.first.into_iter().flatten().collect()
    }
}

/// Logs each warning of `snapshot` once, at a bounded rate across the process (a server
/// streaming such snapshots gets about a line a second of each kind).
pub(crate) fn log(snapshot: &super::Snapshot) {
    use crate::util::ratelimit::LogLimit;
    use std::sync::Mutex;
    static LIMIT: Mutex<Option<LogLimit>> = Mutex::new(None);
    if snapshot.warnings.is_empty() {
        return;
    }
    let mut limit = LIMIT.lock().unwrap_or_else(|p| p.into_inner());
    let limit = limit.get_or_insert_with(LogLimit::default);
    for w in snapshot.warnings.iter() {
        if let Some(held) = limit.check(w.kind.index() as u32) {
            log::warn!(
                "flipt: snapshot of namespace {:?}: {w}{held}",
                snapshot.namespace()
            );
        }
    }
}
