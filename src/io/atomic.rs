//! Atomic output: write to a temporary file beside the target, then rename,
//! so a crash or an error never leaves half a file under the target's name.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Temporary outputs being written now, so that an interrupted run can
/// remove them ([`remove_pending`]).
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Keeps `path` in [`PENDING`] while alive.
pub(crate) struct PendingGuard(PathBuf);

impl PendingGuard {
    pub(crate) fn new(path: &Path) -> Self {
        PENDING.lock().expect("pending outputs").push(path.into());
        PendingGuard(path.into())
    }
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        let mut pending = PENDING.lock().expect("pending outputs");
        if let Some(i) = pending.iter().position(|p| *p == self.0) {
            pending.swap_remove(i);
        }
    }
}

/// Removes every temporary file or folder an unfinished output is being
/// written to. For a Ctrl-C handler: outputs already renamed into place are
/// complete and stay; nothing half-written is left.
pub fn remove_pending() {
    // A writer holding the lock while the process is being interrupted
    // must not stop the clean-up.
    let pending = match PENDING.lock() {
        Ok(p) => p,
        Err(poisoned) => poisoned.into_inner(),
    };
    for path in pending.iter() {
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(path)
        } else {
            std::fs::remove_file(path)
        };
    }
}

/// A file being written under a temporary name; [`AtomicFile::commit`]
/// renames it into place. Dropped without a commit, it is removed.
pub struct AtomicFile {
    path: PathBuf,
    writer: std::io::BufWriter<tempfile::NamedTempFile>,
    _pending: PendingGuard,
}

impl AtomicFile {
    /// Starts writing `path` (its folder must exist).
    pub fn create(path: &Path) -> Result<AtomicFile> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let write_err = |source| Error::Write {
            path: path.into(),
            source,
        };
        let tmp = tempfile::Builder::new()
            .prefix(".accord-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(write_err)?;
        // tempfile creates 0600; outputs are ordinary files.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(write_err)?;
        }
        Ok(AtomicFile {
            path: path.into(),
            _pending: PendingGuard::new(tmp.path()),
            writer: std::io::BufWriter::with_capacity(1 << 20, tmp),
        })
    }

    /// Where to write.
    pub fn writer(&mut self) -> &mut dyn Write {
        &mut self.writer
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        let write_err = |source| Error::Write {
            path: path.clone(),
            source,
        };
        let tmp = self
            .writer
            .into_inner()
            .map_err(|e| write_err(e.into_error()))?;
        tmp.as_file().sync_all().map_err(write_err)?;
        tmp.persist(&path).map_err(|e| write_err(e.error))?;
        Ok(())
    }
}

/// Writes `path` through `fill`, atomically. On error the temporary file is
/// removed and `path` is untouched.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    fill(file.writer()).map_err(|source| Error::Write {
        path: path.into(),
        source,
    })?;
    file.commit()
}
