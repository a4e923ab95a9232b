//! Atomic output: write to a temporary file beside the target, then rename,
//! so a crash or an error never leaves half a file under the target's name.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `path` through `fill`, atomically. On error the temporary file is
/// removed and `path` is untouched.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let write_err = |source| Error::Write {
        path: path.into(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".accord-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(write_err)?;
    {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        fill(&mut out).map_err(write_err)?;
        out.flush().map_err(write_err)?;
    }
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(path).map_err(|e| write_err(e.error))?;
    Ok(())
}
