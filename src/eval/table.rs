//! The fast path for the small delimited files `evaluate` and `--gold`
//! read (gold, predictions): text without quotes, one record per line, the
//! same number of fields on every line. Fields are borrowed from the text,
//! so a record costs no allocation. Anything else (a quote, a bare `\r`, an
//! empty line inside the file, a ragged line) sends the caller back to the
//! `csv` crate, which then reads the file from the start and gives its own
//! messages; up to the line that stopped the fast path both read the same
//! records, so an error the fast path reports first is the one the `csv`
//! crate would have reported.

use std::io::Read;

/// Why the fast path stopped before the end.
pub(crate) struct NeedsGeneralReader;

/// Whether `text` may take the fast path at all: no quote anywhere and no
/// `\r` except in `\r\n` (the `csv` crate also ends a record at a lone `\r`).
fn quote_free(text: &[u8]) -> bool {
    if memchr::memchr(b'"', text).is_some() {
        return false;
    }
    memchr::memchr_iter(b'\r', text).all(|at| text.get(at + 1) == Some(&b'\n'))
}

/// Splits blocks of whole lines into records, counting lines across blocks.
pub(crate) struct FastRecords {
    delimiter: u8,
    line: u64,
    /// Whether the previous line ended in `\r\n`.
    after_crlf: bool,
    width: Option<usize>,
}

impl FastRecords {
    /// Before the first line, splitting on `delimiter`.
    pub(crate) fn new(delimiter: u8) -> Self {
        FastRecords {
            delimiter,
            line: 0,
            after_crlf: false,
            width: None,
        }
    }

    /// Calls `record(line, fields)` for each line of `text`, a block of
    /// whole lines, with the line number the `csv` crate gives the record
    /// (from 1 at the first block, the header included). That is the line's
    /// own number, except after a line ending in `\r\n`, where the `csv`
    /// crate says one less (it takes a record's position before the `\n`
    /// that ends the line before it). `Ok(Err(_))` when the general reader
    /// must take over; errors of `record` are passed on.
    pub(crate) fn block<'t, E>(
        &mut self,
        text: &'t str,
        mut record: impl FnMut(u64, &[&'t str]) -> Result<(), E>,
    ) -> Result<Result<(), NeedsGeneralReader>, E> {
        if !quote_free(text.as_bytes()) {
            return Ok(Err(NeedsGeneralReader));
        }
        let mut fields: Vec<&str> = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            self.line += 1;
            let (this, next) = match memchr::memchr(b'\n', rest.as_bytes()) {
                Some(end) => (&rest[..end], &rest[end + 1..]),
                None => (rest, ""),
            };
            rest = next;
            let reported = self.line - u64::from(self.after_crlf);
            let (this, crlf) = match this.strip_suffix('\r') {
                Some(this) => (this, true),
                None => (this, false),
            };
            self.after_crlf = crlf;
            if this.is_empty() {
                // The `csv` crate skips empty lines; leave that rule to it.
                return Ok(Err(NeedsGeneralReader));
            }
            fields.clear();
            let mut start = 0;
            for at in memchr::memchr_iter(self.delimiter, this.as_bytes()) {
                fields.push(&this[start..at]);
                start = at + 1;
            }
            fields.push(&this[start..]);
            if *self.width.get_or_insert(fields.len()) != fields.len() {
                return Ok(Err(NeedsGeneralReader));
            }
            record(reported, &fields)?;
        }
        Ok(Ok(()))
    }
}

/// [`FastRecords::block`] over the whole of `text`.
pub(crate) fn for_each_record<'t, E>(
    text: &'t str,
    delimiter: u8,
    record: impl FnMut(u64, &[&'t str]) -> Result<(), E>,
) -> Result<Result<(), NeedsGeneralReader>, E> {
    FastRecords::new(delimiter).block(text, record)
}

/// Bytes per block of [`for_each_block`]: small, so that no large buffer
/// is freed just before the caller's big allocations (glibc would then
/// raise its mmap threshold and keep freed memory resident).
const BLOCK_BYTES: usize = 1 << 20;

/// Reads `input` in blocks of whole lines (the last may lack its newline)
/// and hands each to `block`, until the input ends or `block` says stop
/// (`Ok(false)`).
pub(crate) fn for_each_block<E>(
    mut input: impl Read,
    mut block: impl FnMut(&[u8]) -> Result<bool, E>,
    io_error: impl Fn(std::io::Error) -> E,
) -> Result<(), E> {
    let mut buffer = vec![0u8; BLOCK_BYTES];
    let mut filled = 0;
    loop {
        let n = match input.read(&mut buffer[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error(e)),
        };
        if n == 0 {
            if filled > 0 {
                block(&buffer[..filled])?;
            }
            return Ok(());
        }
        filled += n;
        if filled < buffer.len() {
            continue;
        }
        match memchr::memrchr(b'\n', &buffer[..filled]) {
            Some(end) => {
                if !block(&buffer[..=end])? {
                    return Ok(());
                }
                buffer.copy_within(end + 1..filled, 0);
                filled -= end + 1;
            }
            // A line longer than the buffer.
            None => buffer.resize(buffer.len() * 2, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Option<Vec<(u64, Vec<String>)>> {
        let mut out = Vec::new();
        let done = for_each_record::<()>(text, b',', |line, fields| {
            out.push((line, fields.iter().map(|f| f.to_string()).collect()));
            Ok(())
        })
        .unwrap();
        done.ok().map(|()| out)
    }

    #[test]
    fn blocks_end_at_newlines_and_hold_every_byte() {
        let text: String = (0..200_000)
            .map(|n| format!("item{n},{}\n", n % 7))
            .collect();
        let mut blocks = Vec::new();
        for_each_block::<()>(
            text.as_bytes(),
            |b| {
                blocks.push(b.to_vec());
                Ok(true)
            },
            |_| (),
        )
        .unwrap();
        assert!(blocks.len() > 1);
        assert!(blocks.iter().all(|b| b.ends_with(b"\n")));
        assert_eq!(blocks.concat(), text.as_bytes());
    }

    #[test]
    fn plain_lines_are_split_and_anything_unusual_goes_to_the_csv_crate() {
        let got = records("item,label\r\na, x\nb,y").unwrap();
        assert_eq!(got.len(), 3);
        // The `csv` crate's numbers: one less after a `\r\n`.
        assert_eq!(got[1], (1, vec!["a".into(), " x".into()]));
        assert_eq!(got[2].0, 3);
        for text in [
            "item,label\n\"a\",x\n",
            "item,label\na,x\rb,y\n",
            "item,label\n\na,x\n",
            "item,label\na,x,1\n",
        ] {
            assert!(records(text).is_none(), "{text:?}");
        }
    }
}
