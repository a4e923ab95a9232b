//! Multi-label answers packed as a batch of binary problems, one per label,
//! side by side in one [`Packed`]: the existing two-class EM steps then fit
//! every label in one run, on either backend.
//!
//! Layout (N items, W workers, L labels, R responses):
//! - binary item `l·N + i` is (item i, label l); its class is 0 (absent) or
//!   1 (present). Items are blocked by label, so each label has its own
//!   class priors (its prevalence): [`Groups::items_per_group`] = N.
//! - binary worker `w·L + l` is (worker w, label l): a sensitivity and a
//!   specificity per label. Workers are blocked by person, so under the
//!   hierarchical rule a worker's label tables are drawn toward that
//!   worker's own table pooled over labels: [`Groups::workers_per_group`] = L.
//! - every response (item i, worker w) gives one answer to each of its
//!   item's L binary items: present if the worker ticked label l, else
//!   absent. So L·R annotations in all.

use rayon::prelude::*;

use super::{ClassId, Groups, Names, PackStats, Packed};
use crate::error::{Error, Result};

/// Class id of "the label does not hold" in a binary problem.
pub const ABSENT: u32 = 0;
/// Class id of "the label holds".
pub const PRESENT: u32 = 1;

/// Responses to pack: who answered which item and which labels they ticked.
#[derive(Debug, Clone, Copy)]
pub struct Responses<'a> {
    /// Items, N.
    pub n_items: usize,
    /// Workers, W.
    pub n_workers: usize,
    /// Labels, L.
    pub n_labels: usize,
    /// Each response's item id.
    pub item: &'a [u32],
    /// Each response's worker id.
    pub worker: &'a [u32],
    /// `ticked[r * words..(r + 1) * words]`: response r's ticked labels as a
    /// bit set, `words = n_labels.div_ceil(64)`.
    pub ticked: &'a [u64],
}

impl Responses<'_> {
    /// u64 words per response in `ticked`.
    pub fn words(&self) -> usize {
        self.n_labels.div_ceil(64)
    }

    /// Whether response `r` ticked label `l`.
    #[inline]
    pub fn has(&self, r: usize, l: usize) -> bool {
        self.ticked[r * self.words() + l / 64] >> (l % 64) & 1 == 1
    }
}

/// CSR offsets of `rows` (ids below `n`) and the entries listed row by row
/// in input order.
fn group_by(rows: &[u32], n: usize) -> (Vec<u32>, Vec<u32>) {
    let mut offsets = vec![0u32; n + 1];
    for &r in rows {
        offsets[r as usize + 1] += 1;
    }
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    let mut cursor = offsets.clone();
    let mut order = vec![0u32; rows.len()];
    for (index, &r) in rows.iter().enumerate() {
        order[cursor[r as usize] as usize] = index as u32;
        cursor[r as usize] += 1;
    }
    (offsets, order)
}

/// Packs `responses` as L binary problems (see the module docs). Item and
/// worker names are left empty: the binary ids are positions, and the
/// task keeps the names.
pub fn pack_binary(responses: &Responses<'_>) -> Result<Packed> {
    let (n, w, l) = (responses.n_items, responses.n_workers, responses.n_labels);
    let r = responses.item.len();
    if l == 0 {
        return Err(Error::Usage(
            "the input holds no label, so there is no label set: pass `categories`".into(),
        ));
    }
    let total = r as u128 * l as u128;
    let max = u32::MAX as u128;
    if total > max || n as u128 * l as u128 > max || w as u128 * l as u128 > max {
        return Err(Error::Limit(format!(
            "{r} responses × {l} labels = {total} binary answers; accord indexes at most {} in one run: split the input",
            u32::MAX
        )));
    }
    let (item_resp_offsets, by_item) = group_by(responses.item, n);
    let (worker_resp_offsets, by_worker) = group_by(responses.worker, w);

    // By binary item (label-major): label l's block repeats the by-item
    // layout of the responses, shifted by l·R.
    let mut item_offsets = Vec::with_capacity(n * l + 1);
    for label in 0..l {
        let base = (label * r) as u32;
        item_offsets.extend(item_resp_offsets[..n].iter().map(|o| base + o));
    }
    item_offsets.push((l * r) as u32);
    let mut item_worker = vec![0u32; l * r];
    let mut item_label: Vec<ClassId> = vec![0; l * r];
    item_worker
        .par_chunks_mut(r.max(1))
        .zip(item_label.par_chunks_mut(r.max(1)))
        .enumerate()
        .for_each(|(label, (workers, labels))| {
            for (slot, &resp) in by_item.iter().enumerate() {
                let resp = resp as usize;
                workers[slot] = responses.worker[resp] * l as u32 + label as u32;
                labels[slot] = ClassId::from(responses.has(resp, label));
            }
        });

    // By binary worker (person-major): worker w's L tables are consecutive,
    // each listing w's responses in input order.
    let mut worker_offsets = Vec::with_capacity(w * l + 1);
    for person in 0..w {
        let (start, len) = (
            worker_resp_offsets[person],
            worker_resp_offsets[person + 1] - worker_resp_offsets[person],
        );
        for label in 0..l as u32 {
            worker_offsets.push(start * l as u32 + label * len);
        }
    }
    worker_offsets.push((l * r) as u32);
    let mut worker_item = vec![0u32; l * r];
    let mut worker_label: Vec<ClassId> = vec![0; l * r];
    // Split the output at person boundaries so each task writes its own.
    let mut item_parts: Vec<&mut [u32]> = Vec::with_capacity(w);
    let mut label_parts: Vec<&mut [ClassId]> = Vec::with_capacity(w);
    let (mut items_rest, mut labels_rest) =
        (worker_item.as_mut_slice(), worker_label.as_mut_slice());
    for person in 0..w {
        let len = (worker_resp_offsets[person + 1] - worker_resp_offsets[person]) as usize * l;
        let (a, b) = std::mem::take(&mut items_rest).split_at_mut(len);
        let (c, d) = std::mem::take(&mut labels_rest).split_at_mut(len);
        item_parts.push(a);
        label_parts.push(c);
        items_rest = b;
        labels_rest = d;
    }
    item_parts
        .into_par_iter()
        .zip(label_parts)
        .enumerate()
        .for_each(|(person, (items, labels))| {
            let own = &by_worker
                [worker_resp_offsets[person] as usize..worker_resp_offsets[person + 1] as usize];
            for label in 0..l {
                let at = label * own.len();
                for (slot, &resp) in own.iter().enumerate() {
                    let resp = resp as usize;
                    items[at + slot] = (label * n) as u32 + responses.item[resp];
                    labels[at + slot] = ClassId::from(responses.has(resp, label));
                }
            }
        });

    let items_without_annotations = (0..n)
        .filter(|&i| item_resp_offsets[i] == item_resp_offsets[i + 1])
        .count()
        * l;
    Ok(Packed {
        item_names: Names::default(),
        worker_names: Names::default(),
        class_names: vec!["absent".into(), "present".into()],
        class_first_seen: vec![0, 1],
        item_offsets,
        item_worker,
        item_label,
        worker_offsets,
        worker_item,
        worker_label,
        stats: PackStats {
            items: n * l,
            workers: w * l,
            classes: 2,
            annotations: l * r,
            duplicates: 0,
            duplicates_dropped: 0,
            items_without_annotations,
        },
        groups: Groups {
            items_per_group: n.max(1),
            workers_per_group: l,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_response_answers_every_label_of_its_item() {
        // Two items, two workers, three labels; w0 ticks {0, 2} on i0, w1
        // ticks nothing on i0 and {1} on i1.
        let item = [0, 0, 1];
        let worker = [0, 1, 1];
        let ticked = [0b101, 0, 0b010];
        let p = pack_binary(&Responses {
            n_items: 2,
            n_workers: 2,
            n_labels: 3,
            item: &item,
            worker: &worker,
            ticked: &ticked,
        })
        .unwrap();
        assert_eq!(p.n_items(), 6);
        assert_eq!(p.n_workers(), 6);
        assert_eq!(p.n_annotations(), 9);
        // Binary item (label 0, i0): w0 present, w1 absent.
        let a = p.item_range(0);
        assert_eq!(&p.item_worker[a.clone()], &[0, 3]);
        assert_eq!(&p.item_label[a], &[1, 0]);
        // (label 2, i0) = binary item 4: w0·3+2 present, w1·3+2 absent.
        let a = p.item_range(4);
        assert_eq!(&p.item_worker[a.clone()], &[2, 5]);
        assert_eq!(&p.item_label[a], &[1, 0]);
        // Binary worker (w1, label 1) = 4: i0 absent (binary item 2), i1
        // present (binary item 3).
        let a = p.worker_range(4);
        assert_eq!(&p.worker_item[a.clone()], &[2, 3]);
        assert_eq!(&p.worker_label[a], &[0, 1]);
        assert_eq!(p.n_item_groups(), 3);
        assert_eq!(p.n_worker_groups(), 2);
        // The two CSRs hold the same annotations.
        let p = &p;
        let mut by_item: Vec<(u32, u32, ClassId)> = (0..p.n_items())
            .flat_map(|i| {
                p.item_range(i)
                    .map(move |a| (i as u32, p.item_worker[a], p.item_label[a]))
            })
            .collect();
        let mut by_worker: Vec<(u32, u32, ClassId)> = (0..p.n_workers())
            .flat_map(|w| {
                p.worker_range(w)
                    .map(move |a| (p.worker_item[a], w as u32, p.worker_label[a]))
            })
            .collect();
        by_item.sort();
        by_worker.sort();
        assert_eq!(by_item, by_worker);
    }
}
