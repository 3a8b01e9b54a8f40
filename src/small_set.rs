//! A set kept as a sorted `Vec`, for index postings: one term (an owner's
//! uid, an instance, a Secret's name) names one to a few objects, and a
//! `BTreeSet` allocates a node of eleven slots for its first element
//! (heaptrack at 1,000 ServiceDatabases: the caches' and the isolation
//! view's indexes were a fifth of the operator's heap).

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmallSet<T>(Vec<T>);

impl<T> Default for SmallSet<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: Ord> SmallSet<T> {
    /// Adds `item` unless it is there already.
    pub fn insert(&mut self, item: T) {
        if let Err(at) = self.0.binary_search(&item) {
            self.0.insert(at, item);
        }
    }

    /// Removes the item equal to `item`; returns whether it was there.
    pub fn remove<Q>(&mut self, item: &Q) -> bool
    where
        T: std::borrow::Borrow<Q>,
        Q: Ord + ?Sized,
    {
        match self.0.binary_search_by(|held| held.borrow().cmp(item)) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// In order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}

impl<'a, T> IntoIterator for &'a SmallSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_its_items_once_and_in_order() {
        let mut set = SmallSet::default();
        for name in ["b", "a", "c", "a"] {
            set.insert(name.to_string());
        }
        assert_eq!(set.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(set.remove("b"));
        assert!(!set.remove("b"), "already gone");
        assert_eq!(set.iter().collect::<Vec<_>>(), ["a", "c"]);
        assert!(set.remove("a") && set.remove("c"));
        assert!(set.is_empty());
    }
}
