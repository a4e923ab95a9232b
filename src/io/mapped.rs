//! A whole input file as bytes: mapped into memory when it is a large
//! regular file, read into a buffer otherwise.
//!
//! Reading a 700 MB table into a `Vec` costs a copy out of the page cache
//! and a fault on every fresh page of the buffer (a sixth of a 1M-image
//! box run); a mapping reads the page cache in place.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};

/// Files below this are read: a mapping's set-up is not worth it.
const MAP_FROM_BYTES: u64 = 1 << 20;

/// A file's bytes, mapped or owned.
pub enum FileBytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(map) => map,
            FileBytes::Owned(bytes) => bytes,
        }
    }
}

/// The bytes of the file at `path`. A regular file of at least 1 MiB is
/// mapped (read-only); pipes, special files and small files are read.
/// Errors name the path.
pub fn read_file(path: &Path) -> Result<FileBytes> {
    let file = File::open(path).map_err(|e| Error::read(path, e))?;
    let meta = file.metadata().map_err(|e| Error::read(path, e))?;
    if meta.is_file() && meta.len() >= MAP_FROM_BYTES {
        // SAFETY: a read-only shared mapping. Like every reader that maps
        // its input (ripgrep, for one), this relies on no other process
        // truncating or rewriting the file while it is read (that would
        // fault or change the bytes under the slice); accord's inputs are
        // finished files, and accord's own outputs are written to a
        // temporary file and renamed (io/atomic.rs), so an output written
        // over an input leaves the mapped file alone.
        if let Ok(map) = unsafe { memmap2::MmapOptions::new().map(&file) } {
            #[cfg(unix)]
            let _ = map.advise(memmap2::Advice::Sequential);
            return Ok(FileBytes::Mapped(map));
        }
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::io::Read::read_to_end(&mut &file, &mut bytes).map_err(|e| Error::read(path, e))?;
    Ok(FileBytes::Owned(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_files_read_the_same_bytes() {
        let dir = std::env::temp_dir().join(format!("accord-mapped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for len in [0usize, 10, (MAP_FROM_BYTES as usize) + 17] {
            let path = dir.join(format!("f{len}"));
            let content: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            std::fs::write(&path, &content).unwrap();
            let read = read_file(&path).unwrap();
            assert_eq!(
                matches!(read, FileBytes::Mapped(_)),
                len as u64 >= MAP_FROM_BYTES
            );
            assert_eq!(&read[..], &content[..]);
        }
        let missing = dir.join("missing");
        let err = read_file(&missing).err().unwrap().to_string();
        assert!(err.contains("missing"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
