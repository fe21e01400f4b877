//! Snapshot persistence: every snapshot from the server is written to a file atomically (a
//! temporary file in the same directory, fsync, rename), and a client that cannot reach its
//! server starts from that file. A corrupt, truncated or foreign file is reported and ignored.

use crate::error::Error;
use crate::eval::bucket::crc32;
use crate::snapshot::export::write_str;
use crate::snapshot::Snapshot;
use miniserde::Deserialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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
}

fn invalid(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::Validation(format!("persisted snapshot {}: {why}", path.display()))
}

impl Persist {
    /// Checks that the file can be written: its directory must exist.
    pub fn validate(&self) -> Result<(), Error> {
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
    pub fn load(&self) -> Result<Option<Snapshot>, Error> {
        let bytes = match std::fs::read(&self.path) {
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
    pub fn save(&self, snapshot: &Snapshot) -> Result<(), Error> {
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
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = self.dir().join(format!(
            ".{name}.tmp.{}.{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
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
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(|e| invalid(&self.path, format!("cannot write: {e}")))
    }
}
