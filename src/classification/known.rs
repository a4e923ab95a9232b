//! Control tasks: items whose label is known beforehand (Toloka's control
//! tasks, audit samples). Every EM method clamps their posteriors to the
//! known class after its vote start and after every E-step (crowd-kit's
//! `true_labels`), so the worker models learn from them (`glad`, `mace`,
//! `wawa` and `zbs` use them too, on the host); every method's output gives
//! them their known label with confidence 1. This module holds
//! the known labels by name, lines them up with packed data, and tallies
//! each worker's answers on them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Consolidation, Params};
use crate::engine::backend::{Backend, WithKnown};
use crate::engine::pack::{KnownClasses, Packed};
use crate::error::{Error, Result};

/// One known label, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownEntry {
    /// The item's id.
    pub item: String,
    /// Its known label.
    pub label: String,
    /// The line of the file it came from (1 is the header), if any.
    pub line: Option<u64>,
}

/// Known labels by name: from a file ([`KnownLabels::read`]) or from pairs
/// ([`KnownLabels::from_pairs`]). Each item once; a repeat with the same
/// label is accepted and counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownLabels {
    entries: Vec<KnownEntry>,
    /// Entry of each item, to find repeats.
    index: HashMap<String, usize>,
    source: Option<PathBuf>,
    repeats: usize,
}

/// How known labels lined up with the data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownReport {
    /// Distinct items given.
    pub given: usize,
    /// Those found in the data, clamped.
    pub used: usize,
    /// Rows that repeated an item with the same label.
    pub repeats: usize,
    /// Items given but not in the data (ignored), in the order given.
    pub not_in_input: Vec<String>,
}

/// One worker's answers on the known items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KnownTally {
    /// Answers the worker gave to known items.
    pub answered: usize,
    /// Of those, how many equal the known label.
    pub correct: usize,
}

impl KnownTally {
    /// `correct / answered`, or `None` when the worker answered no known item.
    pub fn accuracy(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.correct as f64 / self.answered as f64)
    }
}

impl KnownLabels {
    /// Known labels from `(item, label)` pairs held in memory. An item given
    /// again with another label is an error naming `known`.
    pub fn from_pairs<I: std::fmt::Display, L: std::fmt::Display>(
        pairs: impl IntoIterator<Item = (I, L)>,
    ) -> Result<Self> {
        let mut known = KnownLabels::default();
        for (item, label) in pairs {
            known
                .insert(item.to_string(), label.to_string(), None)
                .map_err(|problem| Error::invalid_param("known", problem))?;
        }
        Ok(known)
    }

    /// Adds one entry; the error is the problem only.
    pub(crate) fn insert(
        &mut self,
        item: String,
        label: String,
        line: Option<u64>,
    ) -> std::result::Result<(), String> {
        if item.is_empty() {
            return Err("empty item id".into());
        }
        if label.is_empty() {
            return Err(format!("item {item:?} has an empty label"));
        }
        if let Some(&j) = self.index.get(&item) {
            let first = &self.entries[j];
            if first.label != label {
                return Err(format!(
                    "item {item:?} is given again with label {label:?}, earlier {:?}{}: give one known label per item",
                    first.label,
                    first.line.map_or(String::new(), |l| format!(" (line {l})"))
                ));
            }
            self.repeats += 1;
            return Ok(());
        }
        self.index.insert(item.clone(), self.entries.len());
        self.entries.push(KnownEntry { item, label, line });
        Ok(())
    }

    /// Names the file the entries came from, for error messages.
    pub(crate) fn with_source(mut self, path: &Path) -> Self {
        self.source = Some(path.to_path_buf());
        self
    }

    /// Reads a file of known labels: CSV or TSV (by the header's separator)
    /// with a header `item,label` (or crowd-kit's `task`). An item repeated
    /// with another label is an error naming the line.
    pub fn read(path: &Path) -> Result<Self> {
        super::read::known::read_known(path)
    }

    /// The entries, in the order given.
    pub fn entries(&self) -> &[KnownEntry] {
        &self.entries
    }

    /// Distinct items given.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is given.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Lines the labels up with `data`'s items and classes. Items not in the
    /// data are listed in the report and ignored; a label that is not one of
    /// the data's classes is an error naming the file and line (or `known`).
    pub fn resolve(&self, data: &Packed) -> Result<(KnownClasses, KnownReport)> {
        let mut found = vec![u32::MAX; self.entries.len()];
        for (i, name) in data.item_names.iter().enumerate() {
            if let Some(&j) = self.index.get(name) {
                found[j] = i as u32;
            }
        }
        let mut pairs = Vec::new();
        let mut not_in_input = Vec::new();
        for (e, &item) in self.entries.iter().zip(&found) {
            if item == u32::MAX {
                not_in_input.push(e.item.clone());
                continue;
            }
            let Some(class) = data.class_names.iter().position(|c| *c == e.label) else {
                let problem = format!(
                    "known label {:?} of item {:?} is not one of the classes ({}); name every class with `categories` if workers never gave it",
                    e.label,
                    e.item,
                    data.class_names.join(",")
                );
                return Err(match (&self.source, e.line) {
                    (Some(path), Some(line)) => Error::at_line(path, line, problem),
                    _ => Error::invalid_param("known", problem),
                });
            };
            pairs.push((item, class as u32));
        }
        let classes = KnownClasses::from_pairs(pairs)
            .map_err(|problem| Error::invalid_param("known", problem))?;
        let report = KnownReport {
            given: self.entries.len(),
            used: classes.len(),
            repeats: self.repeats,
            not_in_input,
        };
        Ok((classes, report))
    }
}

/// Each worker's answers on the known items and how many match.
pub fn worker_tally(data: &Packed, known: &KnownClasses) -> Vec<KnownTally> {
    (0..data.n_workers())
        .map(|w| {
            let range = data.worker_range(w);
            let mut tally = KnownTally::default();
            for (&i, &l) in data.worker_item[range.clone()]
                .iter()
                .zip(&data.worker_label[range])
            {
                if let Some(class) = known.class_of(i) {
                    tally.answered += 1;
                    tally.correct += usize::from(class == u32::from(l));
                }
            }
            tally
        })
        .collect()
}

/// Runs `method_fit` with `params.known` clamped: on a backend whose EM
/// sessions clamp them (the EM methods and `mv`'s worker tables), then
/// with the known items' output set to their known class, confidence 1 and
/// one-hot posteriors for every method. The host-side methods read
/// `params.known` themselves (`glad` and `mace` clamp their E-steps, `wawa`
/// and `zbs` their agreement labels; `kos` and `mmsr` only get the output).
pub(crate) fn fit_with_known(
    method_fit: super::methods::FitFn,
    data: &Packed,
    backend: &dyn Backend,
    params: &Params,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<Consolidation> {
    if params.known.is_empty() {
        return method_fit(data, backend, params, on_iteration);
    }
    for (&i, &c) in params.known.item.iter().zip(&params.known.class) {
        if i as usize >= data.n_items() || c as usize >= data.n_classes() {
            return Err(Error::invalid_param(
                "known",
                format!(
                    "names item id {i} or class id {c}, beyond the data's {} items and {} classes",
                    data.n_items(),
                    data.n_classes()
                ),
            ));
        }
    }
    let clamped = WithKnown {
        inner: backend,
        known: &params.known,
    };
    let mut fit = method_fit(data, &clamped, params, on_iteration)?;
    clamp_output(&mut fit, data, &params.known);
    Ok(fit)
}

/// Known items get their known class, confidence 1 and one-hot posteriors;
/// worker accuracies are recomputed from the clamped posteriors.
fn clamp_output(fit: &mut Consolidation, data: &Packed, known: &KnownClasses) {
    for (&i, &c) in known.item.iter().zip(&known.class) {
        let i = i as usize;
        fit.labels[i] = c;
        fit.confidence[i] = 1.0;
        for (class, p) in fit.posteriors.row_mut(i).iter_mut().enumerate() {
            *p = if class == c as usize { 1.0 } else { 0.0 };
        }
    }
    fit.worker_accuracy = super::result::expected_worker_accuracy(data, &fit.posteriors);
}

/// Sets the `known` items' rows of `posteriors` (`[item][class]`, rows of
/// `k`) to one-hot on their class: the host-side methods' clamp.
pub(crate) fn clamp_rows(posteriors: &mut [f64], k: usize, known: &KnownClasses) {
    for (&i, &c) in known.item.iter().zip(&known.class) {
        let row = &mut posteriors[i as usize * k..(i as usize + 1) * k];
        for (class, p) in row.iter_mut().enumerate() {
            *p = if class == c as usize { 1.0 } else { 0.0 };
        }
    }
}
