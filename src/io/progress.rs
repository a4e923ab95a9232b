//! A reader that reports how many bytes went through it.

use std::io::Read;

/// Wraps a reader and calls `progress` with the running byte count, at most
/// once per MiB so the callback stays cheap.
pub struct CountingReader<'a, R> {
    inner: R,
    read: u64,
    reported: u64,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl<'a, R: Read> CountingReader<'a, R> {
    /// Wraps `inner`, reporting to `progress`.
    pub fn new(inner: R, progress: &'a (dyn Fn(u64) + Sync)) -> Self {
        CountingReader {
            inner,
            read: 0,
            reported: 0,
            progress,
        }
    }
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read - self.reported >= 1 << 20 || n == 0 {
            self.reported = self.read;
            (self.progress)(self.read);
        }
        Ok(n)
    }
}
