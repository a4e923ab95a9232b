//! JSON Lines: one object per line with `item` (or `task`), `worker`, `label`.
//! Ids and labels may be strings or numbers.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde_json::Value;

use super::{FieldNames, Input, Rejects};
use crate::engine::pack::AnnotationBuilder;
use crate::error::{Error, Result};
use crate::io::ground_truth::id_text;

/// Reads JSON Lines; bad lines go to `rejects`.
pub fn read(
    path: &Path,
    reader: impl Read,
    fields: &FieldNames,
    mut builder: AnnotationBuilder,
    rejects: &mut Rejects,
) -> Result<Input> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| crate::error::Error::read(path, e))?;
        if n == 0 {
            break;
        }
        number += 1;
        let mut add = || -> Result<()> {
            let text = std::str::from_utf8(&line).map_err(|e| {
                Error::at_line(
                    path,
                    number,
                    format!("not valid UTF-8 (bad byte at offset {})", e.valid_up_to()),
                )
            })?;
            let text = if number == 1 {
                text.trim_start_matches('\u{feff}')
            } else {
                text
            };
            if text.trim().is_empty() {
                return Ok(());
            }
            let value: Value = crate::io::ground_truth::parse_json_strict(text)
                .map_err(|e| Error::at_line(path, number, format!("invalid JSON: {e}")))?;
            let Value::Object(obj) = value else {
                return Err(Error::at_line(path, number, "expected a JSON object"));
            };
            let get = |names: &[String]| -> Result<String> {
                let v = names.iter().find_map(|n| obj.get(n)).ok_or_else(|| {
                    Error::at_line(path, number, format!("missing field {:?}", names[0]))
                })?;
                id_text(v).ok_or_else(|| {
                    Error::at_line(
                        path,
                        number,
                        format!(
                            "field {:?} must be a string or an integer, not {v}",
                            names[0]
                        ),
                    )
                })
            };
            let item = get(&fields.item)?;
            let worker = get(&fields.worker)?;
            let label = get(&fields.label)?;
            builder
                .push(&item, &worker, &label)
                .map_err(|p| Error::at_line(path, number, p))?;
            Ok(())
        };
        if let Err(e) = add() {
            rejects.bad(e, &line)?;
        }
    }
    Ok(Input {
        annotations: builder.finish(),
        ..Default::default()
    })
}
