//! Gold labels: reading them, and scoring consolidated labels against them.
//!
//! Gold is held as two interners (item names, label names) and one label id
//! per item, not as a map of owned strings: at 2M items that is about 40
//! bytes an item instead of about 200. Scoring against packed data first
//! lines gold up with the packed item ids ([`Gold::for_packed`]), after
//! which every score is a walk over `u32` arrays.

use std::path::Path;

use rayon::prelude::*;

use crate::engine::pack::{Interner, Names, Packed};
use crate::error::{Error, Result};
use crate::eval::table::{for_each_block, FastRecords, NeedsGeneralReader};

/// Gold labels: one label per item, items and labels in first-seen order.
#[derive(Debug, Clone, Default)]
pub struct Gold {
    items: Interner,
    labels: Interner,
    /// Each item's label id (into `labels`), by item id.
    label_of: Vec<u32>,
    repeats: usize,
}

impl Gold {
    /// Gold from `(item, label)` pairs; an item given twice must have the
    /// same label (the error is the problem, without a file or line).
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> std::result::Result<Gold, String> {
        let mut gold = Gold::default();
        for (item, label) in pairs {
            gold.insert(item, label)?;
        }
        Ok(gold)
    }

    /// Adds one row; a repeat with the same label is counted, with another
    /// it is an error.
    fn insert(&mut self, item: &str, label: &str) -> std::result::Result<(), String> {
        let known = self.items.len();
        let id = self.items.intern(item) as usize;
        if id < known {
            let first = self.labels.names().get(self.label_of[id] as usize);
            if first != label {
                return Err(format!("item {item:?} is given again with label {label:?}, earlier {first:?}: gold must give one label per item"));
            }
            self.repeats += 1;
        } else {
            let id = self.label_id_of(label);
            self.label_of.push(id);
        }
        Ok(())
    }

    /// The id of a label name, assigning the next one if it is new. Gold
    /// has few labels: comparing with each beats hashing it.
    fn label_id_of(&mut self, label: &str) -> u32 {
        let names = self.labels.names();
        if names.len() <= 16 {
            if let Some(id) = names.iter().position(|l| l == label) {
                return id as u32;
            }
        }
        self.labels.intern(label)
    }

    /// The number of items with a gold label.
    pub fn len(&self) -> usize {
        self.label_of.len()
    }

    /// Whether no item has a gold label.
    pub fn is_empty(&self) -> bool {
        self.label_of.is_empty()
    }

    /// Rows that repeated an item with the same label (accepted, counted).
    pub fn repeats(&self) -> usize {
        self.repeats
    }

    /// The gold label of `item`, if it has one.
    pub fn get(&self, item: &str) -> Option<&str> {
        self.label_id(item)
            .map(|l| self.labels.names().get(l as usize))
    }

    /// Whether `item` has a gold label.
    pub fn contains(&self, item: &str) -> bool {
        self.items.get(item).is_some()
    }

    /// The id (into [`Gold::label_names`]) of `item`'s gold label.
    pub fn label_id(&self, item: &str) -> Option<u32> {
        self.items.get(item).map(|id| self.label_of[id as usize])
    }

    /// The distinct gold labels, in first-seen order.
    pub fn label_names(&self) -> &Names {
        self.labels.names()
    }

    /// The gold items, in first-seen order.
    pub fn item_names(&self) -> &Names {
        self.items.names()
    }

    /// Each gold item's label id (into [`Gold::label_names`]), in the order
    /// of [`Gold::item_names`].
    pub fn label_ids(&self) -> &[u32] {
        &self.label_of
    }

    /// `(item, label)` in first-seen order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        let (items, labels) = (self.items.names(), self.labels.names());
        self.label_of
            .iter()
            .enumerate()
            .map(move |(i, &l)| (items.get(i), labels.get(l as usize)))
    }

    /// Gold lined up with `data`'s items: see [`PackedGold`].
    pub fn for_packed(&self, data: &Packed) -> PackedGold {
        let mut class_names = data.class_names.clone();
        let label_class: Vec<u32> = self
            .labels
            .names()
            .iter()
            .map(
                |label| match data.class_names.iter().position(|c| c == label) {
                    Some(c) => c as u32,
                    None => {
                        class_names.push(label.to_owned());
                        (class_names.len() - 1) as u32
                    }
                },
            )
            .collect();
        // Gold usually lists items in the data's order: try the gold item
        // after the last one found before hashing the name.
        let names = self.items.names();
        let class: Vec<u32> = (0..data.n_items())
            .into_par_iter()
            .with_min_len(4096)
            .map_init(
                || usize::MAX,
                |last, i| {
                    let name = data.item_names.get(i);
                    let next = last.wrapping_add(1);
                    let found = if next < names.len() && names.get(next) == name {
                        Some(next)
                    } else {
                        self.items.get(name).map(|g| g as usize)
                    };
                    match found {
                        Some(g) => {
                            *last = g;
                            label_class[self.label_of[g] as usize]
                        }
                        None => PackedGold::NONE,
                    }
                },
            )
            .collect();
        let items = class.iter().filter(|&&c| c != PackedGold::NONE).count();
        PackedGold {
            class,
            class_names,
            items,
        }
    }
}

/// Gold by packed item id: what every score over packed data reads, so
/// that no item name is looked up twice.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedGold {
    /// Per item, its gold class as an index into `class_names`, or
    /// [`PackedGold::NONE`]; ids below the data's class count are the
    /// data's class ids.
    pub class: Vec<u32>,
    /// The data's class names, then the gold labels that no annotation
    /// gives (so that no answer is ever right for those items).
    pub class_names: Vec<String>,
    /// Items with a gold label.
    pub items: usize,
}

impl PackedGold {
    /// The class of an item without gold.
    pub const NONE: u32 = u32::MAX;
}

/// Reads a gold file: CSV with a header `item,label` (or `task,label`).
/// An item repeated with the same label is accepted; with another label it
/// is an error naming the line and the item.
pub fn read_gold(path: &Path) -> Result<Gold> {
    read_gold_counted(path).map(|(gold, _)| gold)
}

/// [`read_gold`], with the number of rows that repeated an item alike.
pub fn read_gold_counted(path: &Path) -> Result<(Gold, usize)> {
    if path.is_dir() {
        return Err(Error::BadInput {
            path: path.into(),
            location: crate::error::Location::File,
            problem: "is a folder, not a gold file (CSV item,label)".into(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if std::fs::metadata(path).is_ok_and(|m| m.file_type().is_char_device()) {
            return Err(Error::BadInput {
                path: path.into(),
                location: crate::error::Location::File,
                problem: "is a device, not a gold file (CSV item,label)".into(),
            });
        }
    }
    let open = || {
        std::fs::File::open(path).map_err(|source| Error::Read {
            path: path.into(),
            source,
        })
    };
    let file = open()?;
    let size = file.metadata().map_or(0, |m| m.len() as usize);
    match read_gold_fast(path, file, size)? {
        Ok(gold) => {
            let repeats = gold.repeats;
            Ok((gold, repeats))
        }
        Err(NeedsGeneralReader) => read_gold_general(path, std::io::BufReader::new(open()?)),
    }
}

/// [`read_gold_counted`] from any reader; `path` names it in messages.
pub fn read_gold_from(path: &Path, mut input: impl std::io::Read) -> Result<(Gold, usize)> {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|source| Error::Read {
            path: path.into(),
            source,
        })?;
    match read_gold_fast(path, bytes.as_slice(), bytes.len())? {
        Ok(gold) => {
            let repeats = gold.repeats;
            Ok((gold, repeats))
        }
        Err(NeedsGeneralReader) => read_gold_general(path, bytes.as_slice()),
    }
}

/// The columns of item and label in a header, or the error naming it.
fn gold_columns<'a>(path: &Path, header: impl Iterator<Item = &'a str>) -> Result<(usize, usize)> {
    let names: Vec<String> = header
        .map(|f| f.trim_start_matches('\u{feff}').trim().to_ascii_lowercase())
        .collect();
    let col = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
    match (col(&["item", "task"]), col(&["label", "true_label"])) {
        (Some(item), Some(label)) => Ok((item, label)),
        _ => Err(Error::at_line(
            path,
            1,
            format!("expected a header item,label; found {names:?}"),
        )),
    }
}

/// The fast path: plain lines, no quotes (see [`crate::eval::table`]),
/// read in blocks; `size` (the input's bytes, if known) sizes the tables.
fn read_gold_fast(
    path: &Path,
    input: impl std::io::Read,
    size: usize,
) -> Result<std::result::Result<Gold, NeedsGeneralReader>> {
    let mut gold = Gold::default();
    let mut records = FastRecords::new(b',');
    let mut columns = None;
    let mut outcome = Ok(());
    let mut first = true;
    let io_error = |source| Error::Read {
        path: path.into(),
        source,
    };
    for_each_block(
        input,
        |block| {
            let Ok(mut text) = std::str::from_utf8(block) else {
                outcome = Err(NeedsGeneralReader);
                return Ok(false);
            };
            if first {
                first = false;
                text = text.strip_prefix('\u{feff}').unwrap_or(text);
                // Room for every line at the first block's length per line,
                // and a margin, so the tables rarely regrow (room reserved
                // but never written costs no memory).
                let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
                let expected = (size as f64 / block.len() as f64 * lines as f64 * 1.25) as usize;
                gold.items.reserve(expected, size);
                gold.label_of.reserve(expected);
            }
            outcome = records.block(text, |line, fields| {
                let Some((item_col, label_col)) = columns else {
                    columns = Some(gold_columns(path, fields.iter().copied())?);
                    return Ok(());
                };
                gold.insert(fields[item_col].trim(), fields[label_col].trim())
                    .map_err(|problem| Error::at_line(path, line, problem))
            })?;
            Ok(outcome.is_ok())
        },
        io_error,
    )?;
    if columns.is_none() {
        // No line at all: the `csv` crate's message.
        return Ok(Err(NeedsGeneralReader));
    }
    Ok(outcome.map(|()| gold))
}

/// The general path, through the `csv` crate (quotes, odd line ends).
fn read_gold_general(path: &Path, input: impl std::io::Read) -> Result<(Gold, usize)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(input);
    let mut gold = Gold::default();
    let mut record = csv::StringRecord::new();
    let header_read = reader.read_record(&mut record);
    let (item_col, label_col) = match header_read {
        Ok(true) => gold_columns(path, record.iter())?,
        _ => return Err(Error::at_line(path, 1, "expected a header item,label")),
    };
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(Error::at_line(path, line, e.to_string()));
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        let (Some(item), Some(label)) = (record.get(item_col), record.get(label_col)) else {
            return Err(Error::at_line(
                path,
                line,
                "missing the item or label field",
            ));
        };
        gold.insert(item.trim(), label.trim())
            .map_err(|problem| Error::at_line(path, line, problem))?;
    }
    let repeats = gold.repeats;
    Ok((gold, repeats))
}

/// Accuracy of `labels` on the items that have a gold label: (correct, scored).
pub fn gold_accuracy(data: &Packed, labels: &[u32], gold: &Gold) -> (usize, usize) {
    packed_gold_accuracy(&gold.for_packed(data), labels)
}

/// [`gold_accuracy`] with gold already lined up with the items.
pub fn packed_gold_accuracy(gold: &PackedGold, labels: &[u32]) -> (usize, usize) {
    let correct = gold
        .class
        .iter()
        .zip(labels)
        .filter(|&(&g, &l)| g == l)
        .count();
    (correct, gold.items)
}

/// Agreement of predicted and gold segmentation masks, pooled over images.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SegScores {
    /// Mean of the per-class IoU over classes present in the gold or the
    /// prediction.
    pub mean_iou: f64,
    /// Share of pixels whose predicted class equals the gold one.
    pub pixel_accuracy: f64,
    /// IoU per class; `None` for a class in neither.
    pub per_class_iou: Vec<Option<f64>>,
}

/// Accumulates pixel counts of predicted/gold pairs of masks.
#[derive(Debug, Clone)]
pub struct SegScorer {
    intersection: Vec<u64>,
    union: Vec<u64>,
    correct: u64,
    pixels: u64,
}

impl SegScorer {
    /// An empty scorer for class ids `0..classes`.
    pub fn new(classes: usize) -> Self {
        SegScorer {
            intersection: vec![0; classes],
            union: vec![0; classes],
            correct: 0,
            pixels: 0,
        }
    }

    /// Adds one image (class ids, the same length, below `classes`).
    pub fn add(&mut self, predicted: &[u8], gold: &[u8]) {
        let k = self.union.len();
        let mut predicted_count = vec![0u64; k];
        let mut gold_count = vec![0u64; k];
        for (&p, &g) in predicted.iter().zip(gold) {
            predicted_count[p as usize] += 1;
            gold_count[g as usize] += 1;
            if p == g {
                self.intersection[p as usize] += 1;
                self.correct += 1;
            }
        }
        for c in 0..k {
            self.union[c] += predicted_count[c] + gold_count[c];
        }
        self.pixels += predicted.len().min(gold.len()) as u64;
    }

    /// Adds the images another scorer of the same classes counted.
    pub fn merge(&mut self, other: &SegScorer) {
        for (a, b) in self.intersection.iter_mut().zip(&other.intersection) {
            *a += b;
        }
        for (a, b) in self.union.iter_mut().zip(&other.union) {
            *a += b;
        }
        self.correct += other.correct;
        self.pixels += other.pixels;
    }

    /// The scores of the images added so far.
    pub fn scores(&self) -> SegScores {
        let per_class_iou: Vec<Option<f64>> = self
            .intersection
            .iter()
            .zip(&self.union)
            .map(|(&i, &u)| {
                let union = u - i; // |P| + |G| − |P ∩ G|
                (union > 0).then(|| i as f64 / union as f64)
            })
            .collect();
        let present: Vec<f64> = per_class_iou.iter().flatten().copied().collect();
        SegScores {
            mean_iou: present.iter().sum::<f64>() / present.len().max(1) as f64,
            pixel_accuracy: self.correct as f64 / self.pixels.max(1) as f64,
            per_class_iou,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<(Gold, usize)> {
        read_gold_from(Path::new("gold.csv"), text.as_bytes())
    }

    fn pairs(gold: &Gold) -> Vec<(String, String)> {
        gold.iter()
            .map(|(i, l)| (i.to_owned(), l.to_owned()))
            .collect()
    }

    #[test]
    fn the_fast_path_reads_what_the_csv_crate_reads() {
        let plain = "\u{feff}Task , true_label\r\na, x\nb,y\na,x\n c ,z";
        // A quote anywhere takes the csv crate's path.
        let quoted = "\u{feff}Task , true_label\r\n\"a\", x\nb,y\na,x\n c ,z";
        let (fast, fast_repeats) = read(plain).unwrap();
        let (general, general_repeats) = read(quoted).unwrap();
        assert_eq!(
            pairs(&fast),
            [("a", "x"), ("b", "y"), ("c", "z")].map(|(i, l)| (i.to_owned(), l.to_owned()))
        );
        assert_eq!(pairs(&fast), pairs(&general));
        assert_eq!((fast_repeats, general_repeats), (1, 1));
        assert_eq!(fast.get("b"), Some("y"));
        assert!(fast.contains("c") && !fast.contains("d"));
    }

    #[test]
    fn both_paths_name_the_same_line_of_a_conflicting_repeat() {
        // The second has a quote after the error: the csv crate reads it.
        for text in [
            "item,label\na,x\nb,y\na,z\n",
            "item,label\na,x\nb,y\na,z\n\"q\",x\n",
        ] {
            let err = read(text).unwrap_err().to_string();
            assert!(
                err.contains("line 4: item \"a\" is given again with label \"z\", earlier \"x\""),
                "{text:?}: {err}"
            );
        }
        let err = read("item,label\na,x\nb\n").unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        let err = read("").unwrap_err().to_string();
        assert!(
            err.contains("line 1: expected a header item,label"),
            "{err}"
        );
        let err = read("id,answer\na,x\n").unwrap_err().to_string();
        assert!(err.contains("found [\"id\", \"answer\"]"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn the_fast_path_agrees_with_the_csv_crate_on_any_text(
            header in proptest::sample::select(vec![
                "item,label\n",
                "label,task,x\n",
                "\u{feff}item,label\r\n",
                "",
            ]),
            // Quotes, lone and paired `\r`, empty lines, and bytes that are
            // not UTF-8 (0xff, a cut é).
            body in proptest::collection::vec(
                proptest::sample::select(b"ab, \r\n\"x\xff\xc3".to_vec()),
                0..40,
            ),
        ) {
            let mut text = header.as_bytes().to_vec();
            text.extend(&body);
            let path = Path::new("gold.csv");
            let ours = read_gold_from(path, text.as_slice())
                .map(|(g, n)| (pairs(&g), n))
                .map_err(|e| e.to_string());
            let theirs = read_gold_general(path, text.as_slice())
                .map(|(g, n)| (pairs(&g), n))
                .map_err(|e| e.to_string());
            proptest::prop_assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(&text));
        }
    }

    #[test]
    fn gold_lines_up_with_packed_items_in_any_order() {
        use crate::engine::pack::pack_triples;
        let data = pack_triples(
            &[
                ("i", "w", "a"),
                ("j", "w", "b"),
                ("k", "w", "a"),
                ("l", "w", "b"),
            ],
            None,
        )
        .unwrap();
        // Out of the data's order, an item not in the data, a class no
        // annotation gives.
        let gold = Gold::from_pairs([("k", "b"), ("l", "b"), ("zz", "a"), ("i", "owl")]).unwrap();
        let packed = gold.for_packed(&data);
        assert_eq!(packed.items, 3);
        assert_eq!(packed.class_names, ["a", "b", "owl"]);
        assert_eq!(packed.class, [2, PackedGold::NONE, 1, 1]);
        // Labels a, b, b, b: right on k and l only.
        assert_eq!(gold_accuracy(&data, &[0, 1, 1, 1], &gold), (2, 3));
    }
}
