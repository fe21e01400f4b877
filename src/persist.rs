//! Snapshot persistence: every snapshot from the server is written to a file atomically (a
//! temporary file in the same directory, fsync, rename), and a client that cannot reach its
//! server starts from that file. A corrupt, truncated, oversized or foreign file is reported
//! and ignored.
//!
//! The file is the cache format of `snapshot/cache.rs`: the server's document embedded as it
//! came, so it is a few hundred bytes larger than the document and a snapshot accepted under
//! `max_snapshot_size` always reloads under it. `Snapshot::parse` and `from_snapshot_file`
//! read it too.
//!
//! The temporary file is created exclusively under a random name (`O_CREAT | O_EXCL`, which
//! never follows a symlink), readable by its owner only (mode 0600; on Windows, which has no
//! modes, the file takes its directory's ACL); the rename replaces a symlink planted at the
//! final path instead of writing through it. Temporary files a crash left behind are
//! removed at start and after each write once they are [`ORPHAN_AGE`] old (a younger one may
//! be another process's write in progress).

use crate::error::Error;
use crate::snapshot::cache;
use crate::snapshot::Snapshot;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How old a temporary file of ours must be before it counts as orphaned.
pub(crate) const ORPHAN_AGE: Duration = Duration::from_secs(60);
/// The most directory entries looked at for orphans in one pass.
const MAX_SCAN: usize = 100_000;

/// Where and for whom snapshots are persisted.
#[derive(Debug, Clone)]
pub(crate) struct Persist {
    pub path: PathBuf,
    pub namespace: String,
    pub environment: String,
    /// Largest snapshot written or read (`max_snapshot_size`); the file may exceed it by
    /// its header.
    pub limit: u64,
}

/// Why the persisted file could not be read or written: logged, or (a directory that cannot
/// be made, under `fail`) turned into a validation error of `persist_path`.
#[derive(Debug)]
pub(crate) struct PersistError(String);

impl std::fmt::Display for PersistError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<PersistError> for Error {
    fn from(e: PersistError) -> Error {
        Error::invalid("persist_path", format!("persist_path: {}", e.0))
    }
}

fn invalid(path: &Path, why: impl std::fmt::Display) -> PersistError {
    PersistError(format!("persisted snapshot {}: {why}", path.display()))
}

impl Persist {
    /// Creates the directory (owner-only) when it is missing and removes orphaned temporary
    /// files. An error means the file cannot be written.
    pub(crate) fn prepare(&self) -> Result<(), PersistError> {
        let dir = self.dir();
        if !dir.is_dir() {
            create_private_dir(dir).map_err(|e| {
                invalid(
                    &self.path,
                    format!("cannot create directory {}: {e}", dir.display()),
                )
            })?;
            log::info!("flipt: created the persist directory {}", dir.display());
        }
        self.remove_orphans();
        Ok(())
    }

    fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }

    fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The persisted snapshot; `Ok(None)` when there is no file yet.
    pub(crate) fn load(&self) -> Result<Option<Snapshot>, PersistError> {
        let bytes = match cache::read_file(&self.path, self.limit) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(invalid(&self.path, e)),
        };
        let text =
            std::str::from_utf8(&bytes).map_err(|_| invalid(&self.path, "not UTF-8 (corrupt)"))?;
        if !cache::is_cache(text.as_bytes()) {
            return Err(invalid(&self.path, "not a persisted snapshot"));
        }
        let file = cache::decode(text).map_err(|e| invalid(&self.path, e))?;
        if file.namespace != self.namespace || file.environment != self.environment {
            return Err(invalid(
                &self.path,
                format!(
                    "written for namespace {:?} in environment {:?}, not {:?} in {:?}",
                    file.namespace, file.environment, self.namespace, self.environment
                ),
            ));
        }
        if file.snapshot_len as u64 > self.limit {
            return Err(invalid(
                &self.path,
                format!(
                    "its snapshot of {} bytes exceeds the limit of {} bytes (max_snapshot_size)",
                    file.snapshot_len, self.limit
                ),
            ));
        }
        Ok(Some(file.snapshot))
    }

    /// Writes `snapshot` atomically: readers of the path see the old file or the new one.
    /// `document` is the JSON it was compiled from, embedded as it is; without it the
    /// engine's JSON is written. Returns the size of the file written.
    pub(crate) fn save(
        &self,
        snapshot: &Snapshot,
        document: Option<&str>,
    ) -> Result<u64, PersistError> {
        let exported;
        let json = match document {
            Some(d) => d,
            None => {
                exported = snapshot.to_engine_json();
                &exported
            }
        };
        if json.len() as u64 > self.limit {
            return Err(invalid(
                &self.path,
                format!(
                    "not written: the snapshot of {} flags is {} bytes of JSON, over the limit of {} bytes (max_snapshot_size) that loading it allows",
                    snapshot.len(),
                    json.len(),
                    self.limit
                ),
            ));
        }
        if cache::header_len(&self.namespace, &self.environment) as u64 > cache::MAX_HEADER {
            return Err(invalid(
                &self.path,
                "not written: namespace and environment are too long",
            ));
        }
        let text = cache::encode(&self.namespace, &self.environment, json);
        self.write_atomically(text.as_bytes())?;
        self.remove_orphans();
        Ok(text.len() as u64)
    }

    fn write_atomically(&self, bytes: &[u8]) -> Result<(), PersistError> {
        let tmp = self.dir().join(format!(
            ".{}.tmp.{:016x}",
            self.file_name(),
            crate::util::random_u64()
        ));
        let result = (|| {
            let mut f = create_private(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, &self.path)?;
            // Make the rename itself durable where the platform allows opening directories.
            if let Ok(d) = std::fs::File::open(self.dir()) {
                let _ = d.sync_all();
            }
            Ok::<(), std::io::Error>(())
        })();
        if let Err(e) = &result {
            // Only a file we created is removed: `AlreadyExists` means someone else's.
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                let _ = std::fs::remove_file(&tmp);
            }
        }
        result.map_err(|e| invalid(&self.path, format!("cannot write: {e}")))
    }

    /// Removes this file's temporary files that a crash left behind: regular files named as
    /// [`Persist::write_atomically`] names them, at least [`ORPHAN_AGE`] old. Returns how
    /// many were removed.
    pub(crate) fn remove_orphans(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(self.dir()) else {
            return 0;
        };
        let prefix = format!(".{}.tmp.", self.file_name());
        let mut removed = 0;
        for entry in entries.take(MAX_SCAN).flatten() {
            let name = entry.file_name();
            let Some(suffix) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
                continue;
            };
            if suffix.len() != 16 || !suffix.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            // `DirEntry::metadata` does not follow symlinks: a link is never ours.
            let old = entry.metadata().is_ok_and(|m| {
                m.is_file()
                    && m.modified()
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age >= ORPHAN_AGE)
            });
            if old && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        if removed > 0 {
            log::info!(
                "flipt: removed {removed} orphaned temporary file(s) of {}",
                self.path.display()
            );
        }
        removed
    }
}

/// Creates `dir` and its missing parents, owner-only where the platform has Unix permissions.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates `path` for writing; fails if anything (a file, a symlink) is already there. Owner
/// read and write only, where the platform has Unix permissions.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "flipt-persist-{name}-{}-{:x}",
            std::process::id(),
            crate::util::random_u64()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn files_over_the_limit_are_refused_unread() {
        use crate::util::read_limited;
        let d = dir("limit");
        let path = d.join("big");
        std::fs::write(&path, vec![b'x'; 100]).unwrap();
        assert_eq!(read_limited(&path, 100).unwrap().len(), 100);
        let e = read_limited(&path, 99).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("limit of 99 bytes"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn create_private_never_writes_through_an_existing_path() {
        let d = dir("excl");
        let path = d.join("taken");
        std::fs::write(&path, b"keep").unwrap();
        let e = create_private(&path).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"keep");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
