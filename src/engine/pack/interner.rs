//! String → dense `u32` id, keeping the names for output. Names live in one
//! arena (a single `String` and its end offsets), indexed by a hash table of
//! ids: no allocation per name and each name stored once, which matters at
//! tens of millions of items.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

/// Names in id order, stored back to back.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Names {
    text: String,
    ends: Vec<usize>,
}

impl Names {
    /// Appends a name; its id is the previous length.
    pub fn push(&mut self, name: &str) {
        self.text.push_str(name);
        self.ends.push(self.text.len());
    }

    /// The name of `id`.
    pub fn get(&self, id: usize) -> &str {
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.text[start..self.ends[id]]
    }

    /// The bytes of name `id` (no char-boundary checks: the interner's
    /// comparisons).
    #[inline]
    fn bytes(&self, id: usize) -> &[u8] {
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.text.as_bytes()[start..self.ends[id]]
    }

    /// The number of names.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no names.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The names in id order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// The names as owned strings (for small sets such as classes).
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

impl std::ops::Index<usize> for Names {
    type Output = str;
    fn index(&self, id: usize) -> &str {
        self.get(id)
    }
}

impl<'a> FromIterator<&'a str> for Names {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut names = Names::default();
        for n in iter {
            names.push(n);
        }
        names
    }
}

/// Interns names to dense ids `0..len()` in first-seen order.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    names: Names,
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl Interner {
    /// A fixed label set: `categories` interned in their order. An empty
    /// list, an empty name or a name given twice is a usage error.
    pub fn from_categories(categories: &[String]) -> crate::error::Result<Interner> {
        use crate::error::Error;
        let mut labels = Interner::default();
        for c in categories {
            if c.is_empty() {
                return Err(Error::Usage("`categories` holds an empty name".into()));
            }
            if labels.get(c).is_some() {
                return Err(Error::Usage(format!("`categories` names {c:?} twice")));
            }
            labels.intern(c);
        }
        if labels.is_empty() {
            return Err(Error::Usage("`categories` is empty".into()));
        }
        Ok(labels)
    }

    /// The id of `name`, assigning the next free one if it is new.
    pub fn intern(&mut self, name: &str) -> u32 {
        let hash = self.hasher.hash_one(name.as_bytes());
        let names = &self.names;
        if let Some(&id) = self
            .table
            .find(hash, |&id| names.bytes(id as usize) == name.as_bytes())
        {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name);
        let (names, hasher) = (&self.names, &self.hasher);
        self.table
            .insert_unique(hash, id, |&id| hasher.hash_one(names.bytes(id as usize)));
        id
    }

    /// Makes room for `names` more names of `bytes` bytes in all, so a
    /// reader that knows a batch's size interns it without regrowing.
    pub fn reserve(&mut self, names: usize, bytes: usize) {
        // By an eighth at a time, not doubling: at tens of millions of
        // names the arena is a large part of the reading's memory.
        let text = &mut self.names.text;
        if text.capacity() - text.len() < bytes {
            text.reserve_exact(bytes.max(text.capacity() / 8));
        }
        super::grow(&mut self.names.ends, names);
        let (stored, hasher) = (&self.names, &self.hasher);
        self.table
            .reserve(names, |&id| hasher.hash_one(stored.bytes(id as usize)));
    }

    /// The id of `name`, if it was interned.
    pub fn get(&self, name: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(name.as_bytes());
        self.table
            .find(hash, |&id| self.names.bytes(id as usize) == name.as_bytes())
            .copied()
    }

    /// The number of names interned, which is also the next free id.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no name has been interned.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The names in id order.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// The names in id order, dropping the lookup table and the arena's
    /// unused room.
    pub fn into_names(mut self) -> Names {
        self.names.text.shrink_to_fit();
        self.names.ends.shrink_to_fit();
        self.names
    }
}
