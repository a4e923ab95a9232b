//! Packing: the only place dense tensors are built.
//!
//! Readers push `(item, worker, label)` strings into an [`AnnotationBuilder`],
//! which interns them to dense `u32` ids. [`pack`] then lays the annotations
//! out twice as CSR: by item (for the E-step and votes) and by worker (for the
//! M-step), so every kernel walks contiguous memory without atomics.

pub mod binary;
mod interner;
pub mod known;
pub mod masks;
pub mod spans;
mod subset;

pub use interner::{Interner, Names};
pub use known::KnownClasses;

use rayon::prelude::*;

use crate::error::{Error, Result};

/// A class id in the packed layouts: two bytes, not four, because at 100M
/// annotations each byte per annotation is 100 MB and the two label columns
/// are a fifth of a fit's memory. [`MAX_CLASSES`] is the limit it sets.
pub type ClassId = u16;

/// Most distinct labels one run may hold (the width of [`ClassId`]).
pub const MAX_CLASSES: usize = ClassId::MAX as usize + 1;

/// What to do when one worker labels the same item more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum DuplicatePolicy {
    /// Keep every annotation as a separate vote (crowd-kit's behaviour).
    #[default]
    Keep,
    /// Keep only the worker's first annotation of the item, in input order.
    First,
}

/// Annotations as read, in input order, with names interned to dense ids.
#[derive(Debug, Default)]
pub struct Annotations {
    /// Item names; an item may have no annotation (a Ground Truth object
    /// nobody answered) and still appears in the output.
    pub items: Interner,
    /// Worker names, in first-seen order.
    pub workers: Interner,
    /// Label names, either the user's categories in their order or the
    /// labels in first-seen order (sorted later by [`pack`]).
    pub labels: Interner,
    /// True when `labels` holds the user's `--categories`.
    pub categories_fixed: bool,
    /// Each annotation's item id, in input order.
    pub item: Vec<u32>,
    /// Each annotation's worker id, aligned with `item`.
    pub worker: Vec<u32>,
    /// Each annotation's label id (into `labels`), aligned with `item`.
    pub label: Vec<ClassId>,
}

/// Interns annotations one by one; the readers' only way to produce data.
#[derive(Debug, Default)]
pub struct AnnotationBuilder {
    data: Annotations,
}

impl AnnotationBuilder {
    /// A builder that learns the label set from the data.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder whose label set is fixed to `categories`, in that order.
    pub fn with_categories(categories: &[String]) -> Result<Self> {
        let mut data = Annotations {
            categories_fixed: true,
            ..Default::default()
        };
        for c in categories {
            if c.is_empty() {
                return Err(Error::Usage("`categories` holds an empty name".into()));
            }
            if data.labels.get(c).is_some() {
                return Err(Error::Usage(format!("`categories` names {c:?} twice")));
            }
            data.labels.intern(c);
        }
        if data.labels.is_empty() {
            return Err(Error::Usage("`categories` is empty".into()));
        }
        if data.labels.len() > MAX_CLASSES {
            return Err(Error::Usage(format!(
                "`categories` names {} classes; one run holds at most {MAX_CLASSES}",
                data.labels.len()
            )));
        }
        Ok(Self { data })
    }

    /// Declares an item, so it is reported even if nobody annotated it.
    pub fn declare_item(&mut self, item: &str) -> std::result::Result<u32, String> {
        check_id("item", item)?;
        Ok(self.data.items.intern(item))
    }

    /// Adds one annotation. The error is the problem only; the reader adds the
    /// file and line.
    pub fn push(
        &mut self,
        item: &str,
        worker: &str,
        label: &str,
    ) -> std::result::Result<(), String> {
        check_id("item", item)?;
        check_id("worker", worker)?;
        check_id("label", label)?;
        let label_id = self.intern_label(label)? as ClassId;
        let item_id = self.data.items.intern(item);
        let worker_id = self.data.workers.intern(worker);
        self.data.item.push(item_id);
        self.data.worker.push(worker_id);
        self.data.label.push(label_id);
        Ok(())
    }

    /// Interns an item name (checked by the caller); its id.
    pub fn intern_item(&mut self, item: &str) -> u32 {
        self.data.items.intern(item)
    }

    /// Interns a worker name (checked by the caller); its id.
    pub fn intern_worker(&mut self, worker: &str) -> u32 {
        self.data.workers.intern(worker)
    }

    /// The id of a label: looked up in the fixed categories, or interned;
    /// an error past [`MAX_CLASSES`] distinct labels.
    pub fn intern_label(&mut self, label: &str) -> std::result::Result<u32, String> {
        if self.data.categories_fixed {
            self.data.labels.get(label).ok_or_else(|| {
                format!(
                    "label {label:?} is not one of `categories` ({})",
                    self.data.labels.names().to_vec().join(",")
                )
            })
        } else {
            if self.data.labels.len() == MAX_CLASSES && self.data.labels.get(label).is_none() {
                return Err(format!(
                    "label {label:?} would be the {}th distinct label; one run holds at most \
                     {MAX_CLASSES} (is the label column the right one?)",
                    MAX_CLASSES + 1
                ));
            }
            Ok(self.data.labels.intern(label))
        }
    }

    /// Makes room for a batch of at most `items` new item names (`item_bytes`
    /// bytes in all), `workers` new worker names and `annotations` annotations.
    pub fn reserve(
        &mut self,
        (items, item_bytes): (usize, usize),
        (workers, worker_bytes): (usize, usize),
        annotations: usize,
    ) {
        self.data.items.reserve(items, item_bytes);
        self.data.workers.reserve(workers, worker_bytes);
        grow(&mut self.data.item, annotations);
        grow(&mut self.data.worker, annotations);
        grow(&mut self.data.label, annotations);
    }

    /// Appends annotations given as ids from the `intern_*` methods.
    pub fn extend_ids(
        &mut self,
        items: impl IntoIterator<Item = u32>,
        workers: impl IntoIterator<Item = u32>,
        labels: impl IntoIterator<Item = u32>,
    ) {
        self.data.item.extend(items);
        self.data.worker.extend(workers);
        // `intern_label` and `with_categories` keep every id below MAX_CLASSES.
        self.data
            .label
            .extend(labels.into_iter().map(|l| l as ClassId));
    }

    /// Number of annotations so far.
    pub fn len(&self) -> usize {
        self.data.item.len()
    }

    /// True when no annotation was pushed.
    pub fn is_empty(&self) -> bool {
        self.data.item.is_empty()
    }

    /// The annotations pushed, ready for [`pack`].
    pub fn finish(self) -> Annotations {
        self.data
    }
}

/// Makes room for `additional` more entries, growing by an eighth instead
/// of doubling: the id columns are the input's largest arrays, and a
/// doubled 100M-row column would hold up to half its bytes unused at the
/// memory peak. (Large reallocations move pages rather than copy them on
/// Linux, so the extra regrowths cost little.)
pub(crate) fn grow<T>(column: &mut Vec<T>, additional: usize) {
    if column.capacity() - column.len() < additional {
        column.reserve_exact(additional.max(column.capacity() / 8));
    }
}

/// Longest id accepted, in bytes: longer ones are almost always a broken file
/// (a missing quote swallowing the rest of the input).
pub const MAX_ID_BYTES: usize = 4096;

fn check_id(what: &str, id: &str) -> std::result::Result<(), String> {
    if id.is_empty() {
        return Err(format!("empty {what} id"));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(format!(
            "{what} id is {} bytes long; at most {MAX_ID_BYTES} are accepted",
            id.len()
        ));
    }
    Ok(())
}

/// Counts reported in the run summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PackStats {
    /// Distinct items, including those nobody annotated.
    pub items: usize,
    /// Distinct workers.
    pub workers: usize,
    /// Classes in the label set.
    pub classes: usize,
    /// Annotations used by the model (after the duplicate policy).
    pub annotations: usize,
    /// Annotations repeating an (item, worker) pair already seen.
    pub duplicates: usize,
    /// Of those, how many the duplicate policy dropped.
    pub duplicates_dropped: usize,
    /// Items that nobody annotated (their label comes from the class prior).
    pub items_without_annotations: usize,
}

/// Annotations packed for the kernels: dense ids, CSR by item and by worker.
///
/// Row `i` of the by-item CSR is `item_offsets[i]..item_offsets[i + 1]`
/// into `item_worker` / `item_label`, in input order; likewise by worker.
#[derive(Debug, Clone)]
pub struct Packed {
    /// Item names in item-id order (first-seen order).
    pub item_names: Names,
    /// Worker names in worker-id order (first-seen order).
    pub worker_names: Names,
    /// Class names in class-id order.
    pub class_names: Vec<String>,
    /// Each class's rank in the order labels first appear in the input
    /// (pandas' `factorize` order, which crowd-kit's random starts follow).
    pub class_first_seen: Vec<u32>,
    /// By-item row offsets, length items + 1.
    pub item_offsets: Vec<u32>,
    /// Worker id of each annotation, grouped by item.
    pub item_worker: Vec<u32>,
    /// Class id of each annotation, grouped by item.
    pub item_label: Vec<ClassId>,
    /// By-worker row offsets, length workers + 1.
    pub worker_offsets: Vec<u32>,
    /// Item id of each annotation, grouped by worker.
    pub worker_item: Vec<u32>,
    /// Class id of each annotation, grouped by worker.
    pub worker_label: Vec<ClassId>,
    /// Counts for the run summary.
    pub stats: PackStats,
    /// Blocks of items that share class priors and of workers that share a
    /// hierarchical population table (one block each unless a task packs
    /// several problems side by side, as multi-label does).
    pub groups: Groups,
}

/// Equal blocks of consecutive items and of consecutive workers, so that
/// one EM run fits several problems at once: each block of
/// `items_per_group` items has its own class priors, and under the
/// hierarchical rule each block of `workers_per_group` workers is drawn
/// toward its own population table. Zero means one block of everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Groups {
    /// Items per prior block (0: all items share one prior).
    pub items_per_group: usize,
    /// Workers per population block (0: every worker in one population).
    pub workers_per_group: usize,
}

impl Groups {
    /// One block of everything: single-problem packing.
    pub const ONE: Groups = Groups {
        items_per_group: 0,
        workers_per_group: 0,
    };

    /// Items per block, given `n_items` in all (at least 1).
    pub fn item_block(&self, n_items: usize) -> usize {
        if self.items_per_group == 0 {
            n_items.max(1)
        } else {
            self.items_per_group
        }
    }

    /// Workers per block, given `n_workers` in all (at least 1).
    pub fn worker_block(&self, n_workers: usize) -> usize {
        if self.workers_per_group == 0 {
            n_workers.max(1)
        } else {
            self.workers_per_group
        }
    }
}

impl Packed {
    /// Frees both CSR layouts (12 bytes per annotation), keeping the names,
    /// classes, groups and [`PackStats`]: for a caller that reads results by
    /// name once the fit is done. Every row is then empty and
    /// [`Packed::n_annotations`] is 0; `stats` still counts the input.
    pub fn release_annotations(&mut self) {
        self.item_offsets = vec![0; self.n_items() + 1];
        self.worker_offsets = vec![0; self.n_workers() + 1];
        for column in [&mut self.item_worker, &mut self.worker_item] {
            *column = Vec::new();
        }
        for column in [&mut self.item_label, &mut self.worker_label] {
            *column = Vec::new();
        }
    }

    /// The number of items, including those nobody annotated.
    pub fn n_items(&self) -> usize {
        self.item_offsets.len() - 1
    }
    /// The number of workers.
    pub fn n_workers(&self) -> usize {
        self.worker_offsets.len() - 1
    }
    /// The number of prior blocks (see [`Groups`]); 1 for an empty input.
    pub fn n_item_groups(&self) -> usize {
        self.n_items()
            .div_ceil(self.groups.item_block(self.n_items()))
            .max(1)
    }
    /// The item range of prior block `g`.
    pub fn item_group_range(&self, g: usize) -> std::ops::Range<usize> {
        let size = self.groups.item_block(self.n_items());
        (g * size).min(self.n_items())..((g + 1) * size).min(self.n_items())
    }
    /// The number of population blocks (see [`Groups`]); 1 for no workers.
    pub fn n_worker_groups(&self) -> usize {
        self.n_workers()
            .div_ceil(self.groups.worker_block(self.n_workers()))
            .max(1)
    }
    /// The number of classes, K.
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }
    /// The number of annotations kept (after the duplicate policy).
    pub fn n_annotations(&self) -> usize {
        self.item_worker.len()
    }
    /// The annotation range of item `i` in the by-item CSR.
    pub fn item_range(&self, i: usize) -> std::ops::Range<usize> {
        self.item_offsets[i] as usize..self.item_offsets[i + 1] as usize
    }
    /// The annotation range of worker `w` in the by-worker CSR.
    pub fn worker_range(&self, w: usize) -> std::ops::Range<usize> {
        self.worker_offsets[w] as usize..self.worker_offsets[w + 1] as usize
    }
}

/// The order of classes found in the data (indices into `names`), as
/// [`pack`] sorts them: numerically when every name is an integer (so "10"
/// follows "9"), else by byte order.
pub fn class_order(names: &[String]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..names.len()).collect();
    let numeric: Option<Vec<i128>> = names.iter().map(|n| n.parse::<i128>().ok()).collect();
    match numeric {
        Some(values) => order.sort_by_key(|&i| values[i]),
        None => order.sort_by(|&a, &b| names[a].cmp(&names[b])),
    }
    order
}

/// Row offsets (length `n_rows + 1`) of a CSR whose entry `a` is in row
/// `rows[a]`.
fn row_offsets(rows: &[u32], n_rows: usize) -> Vec<u32> {
    let mut offsets = vec![0u32; n_rows + 1];
    for &r in rows {
        offsets[r as usize + 1] += 1;
    }
    for r in 0..n_rows {
        offsets[r + 1] += offsets[r];
    }
    offsets
}

/// The input entry at CSR position `p` (see [`csr_permutation`]).
fn entry_at(permutation: &Option<Vec<u32>>, p: usize) -> u32 {
    match permutation {
        Some(order) => order[p],
        None => p as u32,
    }
}

/// The CSR of `rows` (entry `a` in row `rows[a]`, rows in entry order):
/// its offsets, and the entry at each position, or `None` when `rows` is
/// already sorted and positions are entries (the usual layout, and that of
/// Ground Truth's output), so no permutation is held.
fn csr_permutation(rows: &[u32], n_rows: usize) -> (Vec<u32>, Option<Vec<u32>>) {
    let offsets = row_offsets(rows, n_rows);
    if rows.is_sorted() {
        return (offsets, None);
    }
    let mut cursor = offsets.clone();
    let mut order = vec![0u32; rows.len()];
    for (index, &r) in rows.iter().enumerate() {
        let slot = &mut cursor[r as usize];
        order[*slot as usize] = index as u32;
        *slot += 1;
    }
    (offsets, Some(order))
}

/// Packs annotations into CSR tensors. Errors if there are no classes or more
/// annotations than the `u32` offsets can index.
pub fn pack(mut data: Annotations, duplicates: DuplicatePolicy) -> Result<Packed> {
    let n_annotations = data.item.len();
    if n_annotations > u32::MAX as usize {
        return Err(Error::Limit(format!(
            "{n_annotations} annotations; accord indexes at most {} in one run: split the input",
            u32::MAX
        )));
    }
    let label_names = data.labels.into_names().to_vec();
    let n_classes = label_names.len();
    if n_classes == 0 {
        return Err(Error::Usage(
            "the input holds no annotation, so there is no label set: pass `categories`".into(),
        ));
    }
    if n_classes > MAX_CLASSES {
        return Err(Error::Limit(format!(
            "{n_classes} classes; accord packs at most {MAX_CLASSES} in one run"
        )));
    }
    // Remap first-seen label ids to the sorted class order.
    let (class_names, label_map): (Vec<String>, Vec<u32>) = if data.categories_fixed {
        (label_names, (0..n_classes as u32).collect())
    } else {
        let order = class_order(&label_names);
        let mut map = vec![0u32; n_classes];
        for (new, &old) in order.iter().enumerate() {
            map[old] = new as u32;
        }
        (order.iter().map(|&o| label_names[o].clone()).collect(), map)
    };

    let mut class_first_seen = vec![0u32; n_classes];
    for (first_seen, &class) in label_map.iter().enumerate() {
        class_first_seen[class as usize] = first_seen as u32;
    }
    let n_items = data.items.len();
    let n_workers = data.workers.len();
    // The names' hash indexes are not needed past reading: free them before
    // the CSR is built, which is a fit's memory peak.
    let item_names = data.items.into_names();
    let worker_names = data.workers.into_names();
    let (mut item_offsets, mut by_item) = csr_permutation(&data.item, n_items);

    // Find repeated (item, worker) pairs within each item's row, in parallel.
    let (n_duplicates, mut dropped_indices) = {
        let (worker, by_item) = (&data.worker, &by_item);
        (0..n_items)
            .into_par_iter()
            .with_min_len(4096)
            .fold(
                || (0usize, Vec::new(), Vec::new()),
                |(mut count, mut drop_list, mut row_workers): (
                    usize,
                    Vec<u32>,
                    Vec<(u32, u32)>,
                ),
                 i| {
                    let row = item_offsets[i] as usize..item_offsets[i + 1] as usize;
                    if row.len() >= 2 {
                        row_workers.clear();
                        row_workers.extend(row.map(|p| {
                            let a = entry_at(by_item, p);
                            (worker[a as usize], a)
                        }));
                        row_workers.sort_unstable();
                        for pair in row_workers.windows(2) {
                            if pair[0].0 == pair[1].0 {
                                count += 1;
                                if duplicates == DuplicatePolicy::First {
                                    // Sorted by (worker, input index): the later one goes.
                                    drop_list.push(pair[1].1);
                                }
                            }
                        }
                    }
                    (count, drop_list, row_workers)
                },
            )
            .map(|(count, drop_list, _)| (count, drop_list))
            .reduce(
                || (0, Vec::new()),
                |(c1, mut d1), (c2, d2)| {
                    d1.extend(d2);
                    (c1 + c2, d1)
                },
            )
    };
    let dropped = dropped_indices.len();

    let (item, worker, label) = if dropped > 0 {
        dropped_indices.par_sort_unstable();
        let mut keep = vec![true; n_annotations];
        for &a in &dropped_indices {
            keep[a as usize] = false;
        }
        fn filter<T: Copy>(v: &[T], keep: &[bool]) -> Vec<T> {
            v.iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(x, _)| *x)
                .collect()
        }
        // Each input column goes as soon as its filtered copy exists.
        let filtered = (
            filter(&std::mem::take(&mut data.item), &keep),
            filter(&std::mem::take(&mut data.worker), &keep),
            filter(&std::mem::take(&mut data.label), &keep),
        );
        (item_offsets, by_item) = csr_permutation(&filtered.0, n_items);
        filtered
    } else {
        (data.item, data.worker, data.label)
    };
    let n_kept = item.len();

    // By item: gathered through the permutation.
    let item_worker: Vec<u32> = (0..n_kept)
        .into_par_iter()
        .map(|p| worker[entry_at(&by_item, p) as usize])
        .collect();
    let item_label: Vec<ClassId> = (0..n_kept)
        .into_par_iter()
        .map(|p| label_map[label[entry_at(&by_item, p) as usize] as usize] as ClassId)
        .collect();
    drop((item, label));

    // By worker, from the by-item CSR rather than the input columns, so
    // those are freed first: each annotation's slot in its worker's row
    // (input order within the row) is written over its worker id, then
    // every by-item entry is scattered to its slot. At most 20 bytes per
    // annotation are live (16 when the input is grouped by item).
    let worker_offsets = row_offsets(&worker, n_workers);
    let mut slot = worker;
    let mut cursor = worker_offsets.clone();
    for s in slot.iter_mut() {
        let row = &mut cursor[*s as usize];
        *s = *row;
        *row += 1;
    }
    let mut worker_item = vec![0u32; n_kept];
    let mut worker_label: Vec<ClassId> = vec![0; n_kept];
    for i in 0..n_items {
        for p in item_offsets[i] as usize..item_offsets[i + 1] as usize {
            let s = slot[entry_at(&by_item, p) as usize] as usize;
            worker_item[s] = i as u32;
            worker_label[s] = item_label[p];
        }
    }
    drop((slot, by_item));

    let items_without_annotations = (0..n_items)
        .filter(|&i| item_offsets[i] == item_offsets[i + 1])
        .count();
    let stats = PackStats {
        items: n_items,
        workers: n_workers,
        classes: n_classes,
        annotations: item_worker.len(),
        duplicates: n_duplicates,
        duplicates_dropped: dropped,
        items_without_annotations,
    };
    Ok(Packed {
        item_names,
        worker_names,
        class_names,
        class_first_seen,
        item_offsets,
        item_worker,
        item_label,
        worker_offsets,
        worker_item,
        worker_label,
        stats,
        groups: Groups::ONE,
    })
}

/// Packs `(item, worker, label)` triples given as strings; for tests and
/// examples.
pub fn pack_triples<S: AsRef<str>>(
    triples: &[(S, S, S)],
    categories: Option<&[String]>,
) -> Result<Packed> {
    let mut builder = match categories {
        Some(c) => AnnotationBuilder::with_categories(c)?,
        None => AnnotationBuilder::new(),
    };
    for (n, (i, w, l)) in triples.iter().enumerate() {
        builder
            .push(i.as_ref(), w.as_ref(), l.as_ref())
            .map_err(|p| Error::at_line(std::path::Path::new("<memory>"), n as u64 + 1, p))?;
    }
    pack(builder.finish(), DuplicatePolicy::Keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_classes_than_a_class_id_holds_are_refused() {
        let mut b = AnnotationBuilder::new();
        for l in 0..MAX_CLASSES {
            b.push("i", "w", &l.to_string()).unwrap();
        }
        // An existing label still goes in; a new one is refused.
        b.push("j", "w", "7").unwrap();
        let err = b.push("j", "w", "new").unwrap_err();
        assert!(err.contains("at most 65536"), "{err}");
        let many: Vec<String> = (0..=MAX_CLASSES).map(|c| c.to_string()).collect();
        assert!(AnnotationBuilder::with_categories(&many).is_err());
        assert!(AnnotationBuilder::with_categories(&many[..MAX_CLASSES]).is_ok());
    }

    /// Both CSR layouts against a direct reading of the triples: rows in
    /// input order, on shuffled and on item-grouped inputs, with and
    /// without dropped duplicates.
    #[test]
    fn both_layouts_match_a_direct_reading_of_the_triples() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for grouped in [false, true] {
            for policy in [DuplicatePolicy::Keep, DuplicatePolicy::First] {
                let mut triples: Vec<(String, String, String)> = (0..2000)
                    .map(|_| {
                        (
                            format!("i{}", rng.gen_range(0..150)),
                            format!("w{}", rng.gen_range(0..40)),
                            format!("c{}", rng.gen_range(0..4)),
                        )
                    })
                    .collect();
                if grouped {
                    triples.sort_by(|a, b| a.0.cmp(&b.0));
                }
                let mut builder = AnnotationBuilder::new();
                for (i, w, l) in &triples {
                    builder.push(i, w, l).unwrap();
                }
                let p = pack(builder.finish(), policy).unwrap();
                // The reference: the kept triples, in input order.
                let mut seen = std::collections::HashSet::new();
                let kept: Vec<_> = triples
                    .iter()
                    .filter(|(i, w, _)| policy == DuplicatePolicy::Keep || seen.insert((i, w)))
                    .collect();
                assert_eq!(p.n_annotations(), kept.len());
                let class = |l: &str| p.class_names.iter().position(|c| c == l).unwrap() as u32;
                for item in 0..p.n_items() {
                    let name = p.item_names.get(item);
                    let want: Vec<(&str, u32)> = kept
                        .iter()
                        .filter(|t| t.0 == name)
                        .map(|t| (t.1.as_str(), class(&t.2)))
                        .collect();
                    let got: Vec<(&str, u32)> = p
                        .item_range(item)
                        .map(|a| {
                            (
                                p.worker_names.get(p.item_worker[a] as usize),
                                u32::from(p.item_label[a]),
                            )
                        })
                        .collect();
                    assert_eq!(got, want, "item {name}");
                }
                for worker in 0..p.n_workers() {
                    let name = p.worker_names.get(worker);
                    let want: Vec<(&str, u32)> = kept
                        .iter()
                        .filter(|t| t.1 == name)
                        .map(|t| (t.0.as_str(), class(&t.2)))
                        .collect();
                    let got: Vec<(&str, u32)> = p
                        .worker_range(worker)
                        .map(|a| {
                            (
                                p.item_names.get(p.worker_item[a] as usize),
                                u32::from(p.worker_label[a]),
                            )
                        })
                        .collect();
                    assert_eq!(got, want, "worker {name}");
                }
            }
        }
    }

    #[test]
    fn released_annotations_keep_names_and_counts() {
        let mut p = pack_triples(&[("a", "w1", "x"), ("b", "w2", "y")], None).unwrap();
        let stats = p.stats.clone();
        p.release_annotations();
        assert_eq!((p.n_items(), p.n_workers(), p.n_annotations()), (2, 2, 0));
        assert_eq!(p.item_names.get(1), "b");
        assert_eq!(p.worker_names.get(0), "w1");
        assert!(p.item_range(0).is_empty() && p.worker_range(1).is_empty());
        assert_eq!(p.stats, stats);
    }

    #[test]
    fn csr_rows_keep_input_order() {
        let p = pack_triples(
            &[
                ("a", "w1", "x"),
                ("b", "w2", "y"),
                ("a", "w2", "y"),
                ("b", "w1", "x"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(p.item_offsets, vec![0, 2, 4]);
        assert_eq!(p.item_worker, vec![0, 1, 1, 0]);
        assert_eq!(p.item_label, vec![0, 1, 1, 0]);
        assert_eq!(p.worker_offsets, vec![0, 2, 4]);
        assert_eq!(p.worker_item, vec![0, 1, 1, 0]);
    }

    #[test]
    fn numeric_classes_sort_by_value() {
        let p = pack_triples(&[("a", "w", "10"), ("b", "w", "9"), ("c", "w", "2")], None).unwrap();
        assert_eq!(p.class_names, vec!["2", "9", "10"]);
        assert_eq!(p.item_label, vec![2, 1, 0]);
    }

    #[test]
    fn duplicates_are_counted_and_first_policy_drops_later_ones() {
        let mut b = AnnotationBuilder::new();
        for (i, w, l) in [
            ("a", "w", "x"),
            ("a", "w", "y"),
            ("a", "v", "y"),
            ("a", "w", "y"),
        ] {
            b.push(i, w, l).unwrap();
        }
        let p = pack(b.finish(), DuplicatePolicy::First).unwrap();
        assert_eq!(p.stats.duplicates, 2);
        assert_eq!(p.stats.duplicates_dropped, 2);
        assert_eq!(p.item_label, vec![0, 1]); // w's first answer "x", then v's "y"
    }

    #[test]
    fn categories_fix_the_order_and_reject_strangers() {
        let cats = vec!["owl".to_string(), "falcon".to_string()];
        let mut b = AnnotationBuilder::with_categories(&cats).unwrap();
        b.push("i", "w", "falcon").unwrap();
        let err = b.push("i", "w", "parrot").unwrap_err();
        assert!(
            err.contains("parrot") && err.contains("owl,falcon"),
            "{err}"
        );
        let p = pack(b.finish(), DuplicatePolicy::Keep).unwrap();
        assert_eq!(p.class_names, cats);
        assert_eq!(p.item_label, vec![1]);
    }
}
