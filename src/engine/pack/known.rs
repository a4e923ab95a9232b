//! Items whose class is known beforehand (control tasks, audit samples), by
//! dense ids: what the EM sessions clamp.

/// Known classes of some items: `item[j]` has class `class[j]`, items
/// increasing and each at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownClasses {
    /// Item ids, increasing.
    pub item: Vec<u32>,
    /// Each item's known class id, aligned with `item`.
    pub class: Vec<u32>,
}

impl KnownClasses {
    /// Known classes from `(item, class)` pairs; sorts them by item. Errors
    /// (with the problem only) when an item is given twice.
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (u32, u32)>,
    ) -> std::result::Result<Self, String> {
        let mut pairs: Vec<(u32, u32)> = pairs.into_iter().collect();
        pairs.sort_unstable();
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(format!("item {} is given twice", w[0].0));
        }
        Ok(KnownClasses {
            item: pairs.iter().map(|p| p.0).collect(),
            class: pairs.iter().map(|p| p.1).collect(),
        })
    }

    /// The number of known items.
    pub fn len(&self) -> usize {
        self.item.len()
    }

    /// Whether no item is known.
    pub fn is_empty(&self) -> bool {
        self.item.is_empty()
    }

    /// The known class of `item`, if it has one.
    pub fn class_of(&self, item: u32) -> Option<u32> {
        self.item.binary_search(&item).ok().map(|j| self.class[j])
    }

    /// The known items within `items` (a range of item ids), rebased to
    /// its start: what one GPU chunk clamps.
    pub fn in_range(&self, items: std::ops::Range<usize>) -> (Vec<u32>, Vec<u32>) {
        let lo = self.item.partition_point(|&i| (i as usize) < items.start);
        let hi = self.item.partition_point(|&i| (i as usize) < items.end);
        (
            self.item[lo..hi]
                .iter()
                .map(|&i| i - items.start as u32)
                .collect(),
            self.class[lo..hi].to_vec(),
        )
    }
}
