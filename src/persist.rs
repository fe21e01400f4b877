//! Snapshot persistence: every snapshot from the server is written to a file atomically (a
//! temporary file in the same directory, fsync, rename), and a client that cannot reach its
//! server starts from that file. A corrupt, truncated, oversized or foreign file is reported
//! and ignored.
//!
//! The temporary file is created exclusively under a random name (`O_CREAT | O_EXCL`, which
//! never follows a symlink), readable by its owner only; the rename replaces a symlink planted
//! at the final path instead of writing through it.

use crate::error::Error;
use crate::snapshot::Snapshot;
use crate::util::crc32::crc32;
use crate::util::json::write_str;
use crate::util::read_limited;
use miniserde::Deserialize;
use std::io::Write;
use std::path::{Path, PathBuf};

const FORMAT: &str = "flipt-client-snapshot/1";

#[derive(Deserialize)]
struct FileContents {
    format: String,
    namespace: String,
    environment: String,
    crc32: u32,
    snapshot: String,
}

/// Where and for whom snapshots are persisted.
#[derive(Debug, Clone)]
pub(crate) struct Persist {
    pub path: PathBuf,
    pub namespace: String,
    pub environment: String,
    /// Largest file read (`max_snapshot_size`).
    pub limit: u64,
}

fn invalid(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::Validation(format!("persisted snapshot {}: {why}", path.display()))
}

impl Persist {
    /// Checks that the file can be written: its directory must exist.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let dir = self.dir();
        if !dir.is_dir() {
            return Err(invalid(
                &self.path,
                format!("directory {} does not exist", dir.display()),
            ));
        }
        Ok(())
    }

    fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }

    /// The persisted snapshot; `Ok(None)` when there is no file yet.
    pub(crate) fn load(&self) -> Result<Option<Snapshot>, Error> {
        let bytes = match read_limited(&self.path, self.limit) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(invalid(&self.path, e)),
        };
        let text =
            std::str::from_utf8(&bytes).map_err(|_| invalid(&self.path, "not UTF-8 (corrupt)"))?;
        let file: FileContents = miniserde::json::from_str(text).map_err(|_| {
            invalid(
                &self.path,
                "not a persisted snapshot (corrupt or truncated)",
            )
        })?;
        if file.format != FORMAT {
            return Err(invalid(
                &self.path,
                format!("unknown format {:?}", file.format),
            ));
        }
        if crc32(file.snapshot.as_bytes()) != file.crc32 {
            return Err(invalid(&self.path, "checksum mismatch (corrupt)"));
        }
        if file.namespace != self.namespace || file.environment != self.environment {
            return Err(invalid(
                &self.path,
                format!(
                    "written for namespace {:?} in environment {:?}, not {:?} in {:?}",
                    file.namespace, file.environment, self.namespace, self.environment
                ),
            ));
        }
        let snapshot = Snapshot::from_base64(&file.snapshot).map_err(|e| invalid(&self.path, e))?;
        if snapshot.namespace() != self.namespace {
            return Err(invalid(&self.path, "snapshot of another namespace"));
        }
        Ok(Some(snapshot))
    }

    /// Writes `snapshot` atomically: readers of the path see the old file or the new one.
    pub(crate) fn save(&self, snapshot: &Snapshot) -> Result<(), Error> {
        let seed = snapshot.to_base64();
        let mut text = String::with_capacity(seed.len() + 128);
        text.push_str("{\"format\":\"");
        text.push_str(FORMAT);
        text.push_str("\",\"namespace\":");
        write_str(&mut text, &self.namespace);
        text.push_str(",\"environment\":");
        write_str(&mut text, &self.environment);
        text.push_str(&format!(
            ",\"crc32\":{},\"snapshot\":\"",
            crc32(seed.as_bytes())
        ));
        text.push_str(&seed);
        text.push_str("\"}\n");
        self.write_atomically(text.as_bytes())
    }

    fn write_atomically(&self, bytes: &[u8]) -> Result<(), Error> {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = self
            .dir()
            .join(format!(".{name}.tmp.{:016x}", crate::util::random_u64()));
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
