//! Packed data without some workers' answers (`drop_spammers`): same items,
//! workers and classes, so every id and name stays as it was.

use super::Packed;

impl Packed {
    /// A copy without the answers of the workers where `drop[worker]` is
    /// true. Those workers keep their id with no annotation; items keep
    /// theirs, with no annotation when only dropped workers answered them.
    pub fn without_workers(&self, drop: &[bool]) -> Packed {
        assert_eq!(drop.len(), self.n_workers(), "one flag per worker");
        let mut out = self.clone();
        let keep = |w: u32| !drop[w as usize];
        out.item_worker.clear();
        out.item_label.clear();
        out.item_offsets.clear();
        out.item_offsets.push(0);
        for i in 0..self.n_items() {
            for a in self.item_range(i) {
                if keep(self.item_worker[a]) {
                    out.item_worker.push(self.item_worker[a]);
                    out.item_label.push(self.item_label[a]);
                }
            }
            out.item_offsets.push(out.item_worker.len() as u32);
        }
        out.worker_item.clear();
        out.worker_label.clear();
        out.worker_offsets.clear();
        out.worker_offsets.push(0);
        for w in 0..self.n_workers() {
            if keep(w as u32) {
                let r = self.worker_range(w);
                out.worker_item
                    .extend_from_slice(&self.worker_item[r.clone()]);
                out.worker_label.extend_from_slice(&self.worker_label[r]);
            }
            out.worker_offsets.push(out.worker_item.len() as u32);
        }
        out.stats.annotations = out.item_worker.len();
        out.stats.items_without_annotations = (0..out.n_items())
            .filter(|&i| out.item_range(i).is_empty())
            .count();
        out
    }
}
