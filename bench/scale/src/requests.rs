//! The operator's API requests, from the API server's audit log, grouped
//! the way the figures need them: reads by verb and resource, watches,
//! writes (SubjectAccessReviews, created but never stored, count as
//! reads). Lease requests (leader election) are left out, as in the e2e
//! suite's zero-write check.

// The e2e suite's reader, which follows the log's rotation (not edited here).
#[path = "../../../e2e/src/audit.rs"]
#[allow(dead_code)]
mod audit;

pub use audit::{Mark, mark};
use std::collections::BTreeMap;
use std::path::Path;

/// The user the operator runs as: the chart's ServiceAccount.
pub const OPERATOR_USER: &str = "system:serviceaccount:servicedb-system:servicedb";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// `verb resource` -> count, for get and list.
    pub reads: BTreeMap<String, usize>,
    pub watches: usize,
    /// `verb resource` -> count, for create, update, patch, delete.
    pub writes: BTreeMap<String, usize>,
}

impl Tally {
    pub fn reads_total(&self) -> usize {
        self.reads.values().sum()
    }
    pub fn writes_total(&self) -> usize {
        self.writes.values().sum()
    }
}

/// Groups `(verb, resource)` pairs.
pub fn tally<'a>(requests: impl IntoIterator<Item = (&'a str, &'a str)>) -> Tally {
    let mut t = Tally::default();
    for (verb, resource) in requests {
        if resource == "leases" {
            continue;
        }
        let key = if resource.is_empty() { format!("{verb} (non-resource URL)") } else { format!("{verb} {resource}") };
        match verb {
            "get" | "list" => *t.reads.entry(key).or_default() += 1,
            // A SubjectAccessReview is a question: created, answered, never stored.
            "create" if resource == "subjectaccessreviews" => *t.reads.entry(key).or_default() += 1,
            "watch" => t.watches += 1,
            v if audit::WRITE_VERBS.contains(&v) => *t.writes.entry(key).or_default() += 1,
            _ => {}
        }
    }
    t
}

/// The operator's requests logged after `since`.
pub fn operator_since(log: &Path, since: Mark) -> Result<Tally, String> {
    let requests = audit::requests_since(log, since, OPERATOR_USER)?;
    Ok(tally(requests.iter().map(|r| (r.verb.as_str(), r.resource.as_str()))))
}

/// `a 4.00, b 2.00` per `per`, largest first.
pub fn per(counts: &BTreeMap<String, usize>, per: f64) -> String {
    let mut items: Vec<(&String, &usize)> = counts.iter().collect();
    items.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let parts: Vec<String> = items.iter().map(|(k, v)| format!("{k} {:.2}", **v as f64 / per)).collect();
    if parts.is_empty() { "none".to_string() } else { parts.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_left_out_and_verbs_are_grouped() {
        let t = tally([
            ("get", "secrets"),
            ("get", "secrets"),
            ("get", "statefulsets"),
            ("list", "jobs"),
            ("watch", "pods"),
            ("update", "leases"),
            ("get", "leases"),
            ("patch", "servicedatabases/status"),
            ("create", "events"),
            ("create", "subjectaccessreviews"),
        ]);
        assert_eq!(t.reads.get("get secrets"), Some(&2));
        assert_eq!(t.reads_total(), 5, "a review is a question, not a write");
        assert_eq!(t.watches, 1);
        assert_eq!(t.writes_total(), 2);
        assert_eq!(
            per(&t.reads, 2.0),
            "get secrets 1.00, create subjectaccessreviews 0.50, get statefulsets 0.50, list jobs 0.50"
        );
    }
}
