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

/// The error of an I/O call on a temporary file, without the temporary's
/// name (which the user never chose): `tempfile` adds its path to the
/// message.
fn plain(error: std::io::Error) -> std::io::Error {
    match error.raw_os_error() {
        Some(code) => std::io::Error::from_raw_os_error(code),
        None => std::io::Error::new(error.kind(), error.kind().to_string()),
    }
}

/// Checks that `path` can be an output: its folder exists and it is not
/// itself a folder. Cheap, for checking every output before any work.
pub fn check_output_path(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let usage =
        |problem: String| Error::Usage(format!("cannot write {}: {problem}", path.display()));
    if !dir.is_dir() {
        return Err(usage(if dir.exists() {
            format!("{} is not a folder", dir.display())
        } else {
            format!("the folder {} does not exist", dir.display())
        }));
    }
    if path.is_dir() {
        return Err(usage("it is a folder; name a file".into()));
    }
    Ok(())
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
        check_output_path(path)?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let write_err = |source| Error::Write {
            path: path.into(),
            source: plain(source),
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
        self.finish()?.persist()
    }

    /// Flushes and syncs the file, ready to be renamed into place.
    fn finish(self) -> Result<Written> {
        let path = self.path;
        let write_err = |source| Error::Write {
            path: path.clone(),
            source: plain(source),
        };
        let tmp = self
            .writer
            .into_inner()
            .map_err(|e| write_err(e.into_error()))?;
        tmp.as_file().sync_all().map_err(write_err)?;
        Ok(Written {
            path,
            tmp,
            _pending: self._pending,
        })
    }
}

/// A written, synced temporary file, waiting to be renamed into place.
struct Written {
    path: PathBuf,
    tmp: tempfile::NamedTempFile,
    _pending: PendingGuard,
}

impl Written {
    fn persist(self) -> Result<()> {
        let path = self.path;
        self.tmp.persist(&path).map_err(|e| Error::Write {
            path: path.clone(),
            source: plain(e.error),
        })?;
        Ok(())
    }
}

/// The file outputs of one run, committed together: each is opened under a
/// temporary name when added (so a folder that does not exist or cannot be
/// written stops the run before any work), and all are renamed into place
/// only once every one is written. Dropped before [`OutputSet::commit`],
/// none is left behind.
#[derive(Default)]
pub struct OutputSet {
    open: Vec<AtomicFile>,
}

impl std::fmt::Debug for OutputSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let paths: Vec<&Path> = self.open.iter().map(|o| o.path.as_path()).collect();
        f.debug_struct("OutputSet").field("paths", &paths).finish()
    }
}

impl OutputSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens `path` as an output of this run; refuses a path already in
    /// the set.
    pub fn add(&mut self, path: &Path) -> Result<()> {
        if self.open.iter().any(|o| o.path == path) {
            return Err(Error::Usage(format!(
                "{} is named as two outputs of this run",
                path.display()
            )));
        }
        self.open.push(AtomicFile::create(path)?);
        Ok(())
    }

    /// Writes the output `path` (added before) through `fill`.
    pub fn write(
        &mut self,
        path: &Path,
        fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<()> {
        let file = self
            .open
            .iter_mut()
            .find(|o| o.path == path)
            .unwrap_or_else(|| panic!("{} was not added to the outputs", path.display()));
        fill(file.writer()).map_err(|source| Error::Write {
            path: path.into(),
            source,
        })
    }

    /// Flushes every output, then renames them all into place.
    pub fn commit(self) -> Result<()> {
        let written = self
            .open
            .into_iter()
            .map(AtomicFile::finish)
            .collect::<Result<Vec<Written>>>()?;
        written.into_iter().try_for_each(Written::persist)
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
