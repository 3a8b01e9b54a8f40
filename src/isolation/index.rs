//! Projected objects by namespace and name, with a secondary index of
//! terms (the Secrets a pod reads, the role a binding names, ...), so that
//! an audit looks at the few objects that can concern one instance instead
//! of every object of its namespace.

use crate::small_set::SmallSet;
use std::collections::HashMap;

/// What an object is found by, besides its name.
pub trait Terms {
    fn terms(&self) -> Vec<String>;
}

/// Objects by namespace (`""` for cluster-scoped ones), then by name, and
/// their names by (namespace, term).
#[derive(Debug)]
pub struct Indexed<P> {
    pub objects: HashMap<String, HashMap<String, P>>,
    by_term: HashMap<(String, String), SmallSet<String>>,
}

impl<P> Default for Indexed<P> {
    fn default() -> Self {
        Self { objects: HashMap::new(), by_term: HashMap::new() }
    }
}

impl<P: Terms + PartialEq + Clone> Indexed<P> {
    /// Sets (or with `None` removes) one object; returns what it was.
    pub fn set(&mut self, namespace: &str, name: &str, new: Option<P>) -> Option<P> {
        let old = match new.clone() {
            Some(p) => self.objects.entry(namespace.to_string()).or_default().insert(name.to_string(), p),
            None => {
                let names = self.objects.get_mut(namespace)?;
                let old = names.remove(name);
                if names.is_empty() {
                    self.objects.remove(namespace);
                }
                old
            }
        };
        if old != new {
            for term in old.iter().flat_map(Terms::terms) {
                let key = (namespace.to_string(), term);
                if let Some(names) = self.by_term.get_mut(&key) {
                    names.remove(name);
                    if names.is_empty() {
                        self.by_term.remove(&key);
                    }
                }
            }
            for term in new.iter().flat_map(Terms::terms) {
                self.by_term.entry((namespace.to_string(), term)).or_default().insert(name.to_string());
            }
        }
        old
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<&P> {
        self.objects.get(namespace)?.get(name)
    }

    /// The objects of `namespace` with `term`, by name.
    pub fn with_term<'a>(&'a self, namespace: &str, term: &str) -> impl Iterator<Item = (&'a str, &'a P)> + 'a {
        let names = self.by_term.get(&(namespace.to_string(), term.to_string()));
        let namespace = namespace.to_string();
        names.into_iter().flatten().filter_map(move |name| Some((name.as_str(), self.get(&namespace, name)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Tagged(Vec<&'static str>);

    impl Terms for Tagged {
        fn terms(&self) -> Vec<String> {
            self.0.iter().map(|t| t.to_string()).collect()
        }
    }

    fn names(index: &Indexed<Tagged>, ns: &str, term: &str) -> Vec<String> {
        index.with_term(ns, term).map(|(n, _)| n.to_string()).collect()
    }

    #[test]
    fn terms_follow_every_change_and_stay_in_their_namespace() {
        let mut index = Indexed::default();
        index.set("shop", "a", Some(Tagged(vec!["x", "y"])));
        index.set("shop", "b", Some(Tagged(vec!["y"])));
        index.set("billing", "c", Some(Tagged(vec!["y"])));
        assert_eq!(names(&index, "shop", "y"), ["a", "b"]);
        assert_eq!(names(&index, "billing", "y"), ["c"]);
        index.set("shop", "a", Some(Tagged(vec!["x"])));
        assert_eq!(names(&index, "shop", "y"), ["b"], "a term an object lost");
        assert_eq!(index.set("shop", "b", None), Some(Tagged(vec!["y"])));
        assert!(names(&index, "shop", "y").is_empty(), "a removed object");
        assert_eq!(names(&index, "shop", "x"), ["a"]);
        index.set("shop", "a", None);
        assert_eq!(index.objects.keys().collect::<Vec<_>>(), ["billing"], "an emptied namespace goes");
        assert_eq!(index.by_term.len(), 1, "only billing's term is left");
    }
}
