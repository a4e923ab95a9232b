//! Atomic output: write to a temporary file beside the target, then rename,
//! so a crash or an error never leaves half a file under the target's name.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Temporary outputs being written now, so that an interrupted run can
/// remove them ([`remove_pending`]).
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Folders temporary files are made in. A temporary exists a moment before
/// it is in [`PENDING`]; the clean-up also removes every file of this
/// process's [`temp_prefix`] in these folders, so none escapes.
static TEMP_FOLDERS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The name prefix of this process's temporary files.
fn temp_prefix() -> String {
    format!(".accord-{}-", std::process::id())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A writer that panicked while holding the lock must not stop the
    // clean-up.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keeps `path` in [`PENDING`] while alive.
pub(crate) struct PendingGuard(PathBuf);

impl PendingGuard {
    pub(crate) fn new(path: &Path) -> Self {
        lock(&PENDING).push(path.into());
        PendingGuard(path.into())
    }
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        let mut pending = lock(&PENDING);
        if let Some(i) = pending.iter().position(|p| *p == self.0) {
            pending.swap_remove(i);
        }
    }
}

/// Removes every temporary file or folder an unfinished output is being
/// written to. Outputs already renamed into place are complete and stay;
/// nothing half-written is left.
pub fn remove_pending() {
    let pending = lock(&PENDING);
    clean(&pending);
}

/// For a Ctrl-C or SIGTERM handler: removes what [`remove_pending`] does
/// and exits with `code` while still holding the list, so a writer thread
/// cannot register (or rename) another output between the clean-up and
/// the exit.
pub fn remove_pending_and_exit(code: i32) -> ! {
    let pending = lock(&PENDING);
    clean(&pending);
    std::process::exit(code)
}

fn clean(pending: &[PathBuf]) {
    for path in pending {
        if path.is_dir() {
            // Writer threads may still add files while the folder is being
            // removed (ENOTEMPTY): try again a few times.
            for _ in 0..5 {
                if std::fs::remove_dir_all(path).is_ok() || !path.exists() {
                    break;
                }
            }
        } else {
            let _ = std::fs::remove_file(path);
        }
    }
    let prefix = temp_prefix();
    for folder in lock(&TEMP_FOLDERS).iter() {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
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
    let dir = folder_of(path);
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

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// What a path refers to, for telling two names of one file apart: the
/// canonical path of the file, or of its folder joined with its name when
/// it does not exist yet. `None` when even the folder cannot be resolved.
pub fn file_identity(path: &Path) -> Option<PathBuf> {
    if let Ok(real) = path.canonicalize() {
        return Some(real);
    }
    // A link to a file not made yet is the file it will make.
    if let Ok(target) = std::fs::read_link(path) {
        let target = if target.is_absolute() {
            target
        } else {
            folder_of(path).join(target)
        };
        if target != path {
            return file_identity(&target);
        }
    }
    let name = path.file_name()?;
    Some(folder_of(path).canonicalize().ok()?.join(name))
}

/// The permissions a new file gets: 0666 less the process's umask (read
/// from /proc, as std has no call for it), as `open(2)` would give.
#[cfg(unix)]
fn new_file_mode() -> u32 {
    let umask = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022);
    0o666 & !umask
}

/// Where an output's bytes go.
enum Sink {
    /// A temporary file beside the target, renamed over it at the end.
    Temp(tempfile::NamedTempFile),
    /// The target itself, written in place: a character device, FIFO or
    /// socket (`/dev/null`, `/dev/stdout`, a pipe), which must never be
    /// replaced by a regular file.
    Direct(std::fs::File),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Temp(f) => f.write(buf),
            Sink::Direct(f) => f.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Temp(f) => f.flush(),
            Sink::Direct(f) => f.flush(),
        }
    }
}

/// A file being written under a temporary name; [`AtomicFile::commit`]
/// renames it into place. Dropped without a commit, it is removed. A
/// target that exists and is not a regular file (a device, a FIFO, what
/// `/dev/stdout` links to) is written directly instead, never replaced.
pub struct AtomicFile {
    /// The path the user named (for messages).
    path: PathBuf,
    /// Where the rename goes: `path` with its links followed.
    target: PathBuf,
    writer: std::io::BufWriter<Sink>,
    _pending: Option<PendingGuard>,
}

impl AtomicFile {
    /// Starts writing `path` (its folder must exist).
    pub fn create(path: &Path) -> Result<AtomicFile> {
        check_output_path(path)?;
        let write_err = |source| Error::Write {
            path: path.into(),
            source: plain(source),
        };
        // Follow links, so the rename replaces the file a link names, not
        // the link, and a link to a device is seen as the device.
        let target = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let existing = std::fs::metadata(&target).ok();
        if existing.as_ref().is_some_and(|m| !m.is_file()) {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .map_err(write_err)?;
            return Ok(AtomicFile {
                path: path.into(),
                target,
                writer: std::io::BufWriter::with_capacity(1 << 16, Sink::Direct(file)),
                _pending: None,
            });
        }
        let folder = folder_of(&target);
        {
            let mut folders = lock(&TEMP_FOLDERS);
            if !folders.iter().any(|f| f == folder) {
                folders.push(folder.to_path_buf());
            }
        }
        let tmp = tempfile::Builder::new()
            .prefix(&temp_prefix())
            .suffix(".tmp")
            .tempfile_in(folder)
            .map_err(write_err)?;
        // tempfile creates 0600; an output gets what a new file would
        // (0666 less the umask), or keeps the permissions of the file it
        // replaces.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = existing
                .map(|m| m.permissions().mode() & 0o7777)
                .unwrap_or_else(new_file_mode);
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(write_err)?;
        }
        Ok(AtomicFile {
            path: path.into(),
            _pending: Some(PendingGuard::new(tmp.path())),
            target,
            writer: std::io::BufWriter::with_capacity(1 << 20, Sink::Temp(tmp)),
        })
    }

    /// Where to write.
    pub fn writer(&mut self) -> &mut dyn Write {
        &mut self.writer
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> Result<()> {
        commit_all(vec![self])
    }

    /// Flushes (and for a temporary, syncs) the file, ready to be renamed
    /// into place. A write error (a full disk: ENOSPC) surfaces here.
    fn finish(self) -> Result<Written> {
        let path = self.path;
        let write_err = |source| Error::Write {
            path: path.clone(),
            source: plain(source),
        };
        let sink = self
            .writer
            .into_inner()
            .map_err(|e| write_err(e.into_error()))?;
        let tmp = match sink {
            Sink::Temp(tmp) => {
                tmp.as_file().sync_all().map_err(write_err)?;
                Some(tmp)
            }
            Sink::Direct(_) => None,
        };
        Ok(Written {
            path,
            target: self.target,
            tmp,
            _pending: self._pending,
        })
    }
}

/// A written, synced temporary file, waiting to be renamed into place
/// (nothing to rename for a direct write).
struct Written {
    path: PathBuf,
    target: PathBuf,
    tmp: Option<tempfile::NamedTempFile>,
    _pending: Option<PendingGuard>,
}

impl Written {
    /// Renames the temporary into place; the pending guard stays until the
    /// `Written` is dropped.
    fn persist(&mut self) -> Result<()> {
        let Some(tmp) = self.tmp.take() else {
            return Ok(());
        };
        tmp.persist(&self.target).map_err(|e| Error::Write {
            path: self.path.clone(),
            source: plain(e.error),
        })?;
        Ok(())
    }
}

/// Flushes every file, then renames them all into place while holding the
/// pending list, so an interrupt handler (which needs the list) runs either
/// before the first rename or after the last: the files land all together
/// or not at all.
pub fn commit_all(files: Vec<AtomicFile>) -> Result<()> {
    let mut written = files
        .into_iter()
        .map(AtomicFile::finish)
        .collect::<Result<Vec<Written>>>()?;
    {
        let _interrupts_wait = lock(&PENDING);
        for w in &mut written {
            w.persist()?;
        }
    }
    // The guards (which take the list) are dropped after it is released.
    drop(written);
    Ok(())
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
        let identity = file_identity(path);
        if self
            .open
            .iter()
            .any(|o| o.path == path || (identity.is_some() && file_identity(&o.path) == identity))
        {
            return Err(Error::Usage(format!(
                "{} is named as two outputs of this run",
                path.display()
            )));
        }
        self.open.push(AtomicFile::create(path)?);
        Ok(())
    }

    /// Writes the output `path` (added before) through `fill`.
    /// Refuses `input` (an input of the run) when it is one of the outputs,
    /// under any name: writing would destroy what is being read.
    pub fn refuse_input(&self, input: &Path) -> Result<()> {
        self.refuse_input_except(input, None)
    }

    /// [`OutputSet::refuse_input`], except that the output `updated` may be
    /// `input` (a file read whole before anything is written, then replaced
    /// atomically: `--workers-out` updating the `--workers-in` model).
    pub fn refuse_input_except(&self, input: &Path, updated: Option<&Path>) -> Result<()> {
        let Some(identity) = file_identity(input) else {
            return Ok(());
        };
        match self.open.iter().find(|o| {
            Some(o.path.as_path()) != updated && file_identity(&o.path).as_ref() == Some(&identity)
        }) {
            Some(o) => Err(Error::Usage(format!(
                "the output {} is the input file {}: choose another path",
                o.path.display(),
                input.display()
            ))),
            None => Ok(()),
        }
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

    /// Flushes every output, then renames them all into place together.
    pub fn commit(self) -> Result<()> {
        commit_all(self.open)
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
