//! What changed between two snapshots, flag by flag, for change notifications.

use super::export::flag_fingerprint;
use super::Snapshot;
use std::collections::HashMap;

/// The flags a snapshot update added, removed or changed, delivered to the listeners of
/// [`crate::FliptClient::on_change`] and [`crate::FliptClient::subscribe`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotChange {
    /// The generation of the new snapshot.
    pub generation: u64,
    /// Keys of flags that are new, sorted.
    pub added: Vec<String>,
    /// Keys of flags that are gone, sorted.
    pub removed: Vec<String>,
    /// Keys of flags whose definition (anything that can change a result) differs, sorted.
    pub changed: Vec<String>,
}

impl SnapshotChange {
    /// Whether any flag was added, removed or changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// Compares two snapshots by flag key and flag definition.
    pub(crate) fn between(old: &Snapshot, new: &Snapshot, generation: u64) -> SnapshotChange {
        let before: HashMap<&str, &super::Flag> = old
            .flags
            .iter()
            .map(|f| (Snapshot::lookup_key(f), f))
            .collect();
        let mut change = SnapshotChange {
            generation,
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
        };
        for f in &new.flags {
            let key = Snapshot::lookup_key(f);
            match before.get(key) {
                None => change.added.push(key.to_string()),
                Some(prev) => {
                    if flag_fingerprint(old, prev) != flag_fingerprint(new, f) {
                        change.changed.push(key.to_string());
                    }
                }
            }
        }
        for f in &old.flags {
            let key = Snapshot::lookup_key(f);
            if !new.contains(key) {
                change.removed.push(key.to_string());
            }
        }
        change.added.sort();
        change.removed.sort();
        change.changed.sort();
        change
    }
}
