//! Multi-label answers as read: one response per (item, worker), each with
//! the set of labels the worker ticked. A label a worker did not tick on an
//! item they answered is a "no" for that label.

use hashbrown::HashMap;

use crate::engine::pack::binary::Responses;
use crate::engine::pack::{Interner, Names};
use crate::error::{Error, Result};

/// Counts of input the readers accepted but handled specially, for the
/// run summary (see the README's bad-input list).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct AnswerStats {
    /// Responses (answers of one worker to one item).
    pub responses: usize,
    /// Label ticks kept, after repeats were counted once.
    pub selections: usize,
    /// Responses that ticked no label: a "no" to every label.
    pub empty_responses: usize,
    /// A label named twice in one response: counted once.
    pub repeated_labels: usize,
    /// A worker answering the same item again: merged into the first
    /// response (a request keeps the first answer; selection tables take the
    /// union of the rows).
    pub repeated_responses: usize,
}

/// Multi-label answers in dense ids, with the names for output.
#[derive(Debug, Clone)]
pub struct Answers {
    /// Item names in first-seen order (an item may have no response: a
    /// Ground Truth object nobody answered).
    pub items: Names,
    /// Worker names in first-seen order.
    pub workers: Names,
    /// Label names in label-id order: `categories` as given, else the
    /// labels found, sorted (numerically when all are integers).
    pub labels: Vec<String>,
    /// Each response's item.
    pub response_item: Vec<u32>,
    /// Each response's worker.
    pub response_worker: Vec<u32>,
    /// Each response's ticked labels as a bit set of
    /// `labels.len().div_ceil(64)` words.
    pub ticked: Vec<u64>,
    /// A Ground Truth request's `dataObject` per item (`None` otherwise).
    pub data_objects: Vec<Option<serde_json::Value>>,
    /// What the readers counted.
    pub stats: AnswerStats,
}

impl Answers {
    /// Items, N.
    pub fn n_items(&self) -> usize {
        self.items.len()
    }
    /// Workers, W.
    pub fn n_workers(&self) -> usize {
        self.workers.len()
    }
    /// Labels, L.
    pub fn n_labels(&self) -> usize {
        self.labels.len()
    }
    /// Responses, R.
    pub fn n_responses(&self) -> usize {
        self.response_item.len()
    }
    /// u64 words per response in `ticked`.
    pub fn words(&self) -> usize {
        self.n_labels().div_ceil(64)
    }
    /// Whether response `r` ticked label `l`.
    pub fn has(&self, r: usize, l: usize) -> bool {
        self.ticked[r * self.words() + l / 64] >> (l % 64) & 1 == 1
    }
    /// The responses as the engine's packer takes them.
    pub fn responses(&self) -> Responses<'_> {
        Responses {
            n_items: self.n_items(),
            n_workers: self.n_workers(),
            n_labels: self.n_labels(),
            item: &self.response_item,
            worker: &self.response_worker,
            ticked: &self.ticked,
        }
    }
    /// `[item][label]` how many workers ticked the label, and `[item]` how
    /// many answered.
    pub fn counts(&self) -> (Vec<u32>, Vec<u32>) {
        let l = self.n_labels();
        let mut ticks = vec![0u32; self.n_items() * l];
        let mut answered = vec![0u32; self.n_items()];
        for r in 0..self.n_responses() {
            let i = self.response_item[r] as usize;
            answered[i] += 1;
            for label in 0..l {
                ticks[i * l + label] += self.has(r, label) as u32;
            }
        }
        (ticks, answered)
    }
}

/// Builds [`Answers`] record by record: the readers' only way to produce them.
#[derive(Debug, Default)]
pub struct AnswersBuilder {
    items: Interner,
    workers: Interner,
    labels: Interner,
    categories_fixed: bool,
    response_of: HashMap<(u32, u32), u32>,
    last: Option<((u32, u32), u32)>,
    /// The names of the last response asked for: selection rows come
    /// grouped by answer, so most rows repeat them and skip the lookups.
    last_names: (String, String),
    response_item: Vec<u32>,
    response_worker: Vec<u32>,
    /// (response, label id) per tick, as read.
    ticks: Vec<(u32, u32)>,
    repeated_responses: usize,
    data_objects: Vec<Option<serde_json::Value>>,
}

/// Whether a response was new or merged into an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseKind {
    /// The first answer of this worker to this item.
    New,
    /// The worker's answer to this item exists already (an earlier row or
    /// annotation): the caller decides whether that is a repeat.
    Existing,
}

/// Longest id a message quotes: ids may be up to `MAX_ID_BYTES` long, and
/// a message should stay readable.
pub(crate) const MAX_QUOTED_ID_CHARS: usize = 100;

/// `id` clipped for quoting in a message.
pub(crate) fn quoted(id: &str) -> String {
    crate::error::clip(id, MAX_QUOTED_ID_CHARS).into_owned()
}

fn check_id(what: &str, id: &str) -> std::result::Result<(), String> {
    if id.is_empty() {
        return Err(format!("empty {what} id"));
    }
    if id.len() > crate::engine::pack::MAX_ID_BYTES {
        return Err(format!(
            "{what} id is {} bytes long; at most {} are accepted",
            id.len(),
            crate::engine::pack::MAX_ID_BYTES
        ));
    }
    Ok(())
}

impl AnswersBuilder {
    /// A builder that learns the label set from the data.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder whose label set is `categories`, in that order.
    pub fn with_categories(categories: &[String]) -> Result<Self> {
        Ok(Self {
            categories_fixed: true,
            labels: Interner::from_categories(categories)?,
            ..Self::default()
        })
    }

    /// Declares an item (so it is reported even if nobody answered it)
    /// with its Ground Truth `dataObject`; its id.
    pub fn declare_item(
        &mut self,
        item: &str,
        data_object: Option<serde_json::Value>,
    ) -> std::result::Result<u32, String> {
        check_id("item", item)?;
        let id = self.items.intern(item);
        if id as usize == self.data_objects.len() {
            self.data_objects.push(data_object);
        }
        Ok(id)
    }

    /// Whether `item` was seen already.
    pub fn has_item(&self, item: &str) -> bool {
        self.items.get(item).is_some()
    }

    /// The response of `worker` to `item`, made if new. Without
    /// `create`, a missing response is an error (a selection whose answer
    /// the responses file does not list).
    pub fn response(
        &mut self,
        item: &str,
        worker: &str,
        create: bool,
    ) -> std::result::Result<(u32, ResponseKind), String> {
        if let Some((_, r)) = self.last {
            if self.last_names.0 == item && self.last_names.1 == worker {
                return Ok((r, ResponseKind::Existing));
            }
        }
        check_id("item", item)?;
        check_id("worker", worker)?;
        let (i, w) = if create {
            (self.declare_item(item, None)?, self.workers.intern(worker))
        } else {
            match (self.items.get(item), self.workers.get(worker)) {
                (Some(i), Some(w)) => (i, w),
                _ => return Err(Self::no_response(item, worker)),
            }
        };
        if let Some((key, r)) = self.last {
            if key == (i, w) {
                return Ok((r, ResponseKind::Existing));
            }
        }
        let next = self.response_item.len() as u32;
        let r = match self.response_of.get(&(i, w)) {
            Some(&r) => r,
            None if create => {
                self.response_of.insert((i, w), next);
                self.response_item.push(i);
                self.response_worker.push(w);
                self.remember(item, worker, (i, w), next);
                return Ok((next, ResponseKind::New));
            }
            None => return Err(Self::no_response(item, worker)),
        };
        self.remember(item, worker, (i, w), r);
        Ok((r, ResponseKind::Existing))
    }

    fn remember(&mut self, item: &str, worker: &str, key: (u32, u32), r: u32) {
        self.last = Some((key, r));
        self.last_names.0.clear();
        self.last_names.0.push_str(item);
        self.last_names.1.clear();
        self.last_names.1.push_str(worker);
    }

    fn no_response(item: &str, worker: &str) -> String {
        let (item, worker) = (quoted(item), quoted(worker));
        format!(
            "worker {worker:?} ticked a label of item {item:?}, but the responses file lists no answer of theirs to it"
        )
    }

    /// Counts a response that repeated an earlier one.
    pub fn count_repeated_response(&mut self) {
        self.repeated_responses += 1;
    }

    /// Whether `label` may be ticked: a valid id, and one of the
    /// categories when they are fixed.
    pub fn check_label(&self, label: &str) -> std::result::Result<(), String> {
        check_id("label", label)?;
        if self.categories_fixed && self.labels.get(label).is_none() {
            return Err(format!(
                "label {:?} is not one of `categories` ({})",
                quoted(label),
                self.labels.names().to_vec().join(",")
            ));
        }
        Ok(())
    }

    /// Records that response `r` ticked `label`.
    pub fn tick(&mut self, r: u32, label: &str) -> std::result::Result<(), String> {
        self.check_label(label)?;
        let id = if self.categories_fixed {
            self.labels.get(label).expect("checked")
        } else {
            self.labels.intern(label)
        };
        self.ticks.push((r, id));
        Ok(())
    }

    /// Responses so far.
    pub fn n_responses(&self) -> usize {
        self.response_item.len()
    }

    /// The answers, label ids in their final order.
    pub fn finish(self) -> Result<Answers> {
        let names = self.labels.into_names().to_vec();
        if names.is_empty() {
            return Err(Error::Usage(
                "the input ticks no label, so there is no label set: pass `categories`".into(),
            ));
        }
        let (labels, map): (Vec<String>, Vec<usize>) = if self.categories_fixed {
            (names.clone(), (0..names.len()).collect())
        } else {
            let mut order: Vec<usize> = (0..names.len()).collect();
            let numeric: Option<Vec<i128>> = names.iter().map(|n| n.parse::<i128>().ok()).collect();
            match numeric {
                Some(v) => order.sort_by_key(|&i| v[i]),
                None => order.sort_by(|&a, &b| names[a].cmp(&names[b])),
            }
            let mut map = vec![0; names.len()];
            for (new, &old) in order.iter().enumerate() {
                map[old] = new;
            }
            (order.iter().map(|&o| names[o].clone()).collect(), map)
        };
        let words = labels.len().div_ceil(64);
        let n_responses = self.response_item.len();
        let mut ticked = vec![0u64; n_responses * words];
        let mut repeated_labels = 0;
        for &(r, id) in &self.ticks {
            let l = map[id as usize];
            let word = &mut ticked[r as usize * words + l / 64];
            let bit = 1u64 << (l % 64);
            if *word & bit != 0 {
                repeated_labels += 1;
            }
            *word |= bit;
        }
        let empty_responses = ticked
            .chunks(words.max(1))
            .filter(|w| w.iter().all(|&x| x == 0))
            .count();
        let mut data_objects = self.data_objects;
        data_objects.resize(self.items.len(), None);
        Ok(Answers {
            items: self.items.into_names(),
            workers: self.workers.into_names(),
            labels,
            stats: AnswerStats {
                responses: n_responses,
                selections: self.ticks.len() - repeated_labels,
                empty_responses,
                repeated_labels,
                repeated_responses: self.repeated_responses,
            },
            response_item: self.response_item,
            response_worker: self.response_worker,
            ticked,
            data_objects,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_ticks_count_once_and_empty_responses_are_kept() {
        let mut b = AnswersBuilder::new();
        let (r0, k) = b.response("i", "w", true).unwrap();
        assert_eq!(k, ResponseKind::New);
        b.tick(r0, "b").unwrap();
        b.tick(r0, "a").unwrap();
        b.tick(r0, "b").unwrap();
        let (r1, _) = b.response("i", "v", true).unwrap();
        assert_ne!(r0, r1);
        let a = b.finish().unwrap();
        assert_eq!(a.labels, vec!["a", "b"]);
        assert!(a.has(0, 0) && a.has(0, 1) && !a.has(1, 0) && !a.has(1, 1));
        assert_eq!(a.stats.repeated_labels, 1);
        assert_eq!(a.stats.selections, 2);
        assert_eq!(a.stats.empty_responses, 1);
    }

    #[test]
    fn a_selection_without_its_response_is_refused() {
        let mut b = AnswersBuilder::new();
        b.response("i", "w", true).unwrap();
        let err = b.response("i", "v", false).unwrap_err();
        assert!(
            err.contains("\"v\"") && err.contains("responses file"),
            "{err}"
        );
    }
}
