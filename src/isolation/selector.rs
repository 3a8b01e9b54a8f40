//! Label selectors as the API server evaluates them, and whether one
//! selector's set lies inside another's.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use std::collections::BTreeMap;

/// Whether `selector` selects an object with `labels`. An empty selector
/// selects everything; an unknown operator selects nothing (as the API
/// server refuses such a selector, nothing it stores has one).
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let pairs = selector.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    pairs && selector.match_expressions.iter().flatten().all(|r| requirement_holds(r, labels))
}

fn requirement_holds(r: &LabelSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let value = labels.get(&r.key);
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        _ => false,
    }
}

/// Whether every object `narrow` selects is also selected by `wide`. Exact
/// when `wide` has `matchLabels` only (the operator's own selectors); an
/// expression in `wide` is not reasoned about and answers `false`, so a
/// policy is reported rather than trusted.
pub fn within(narrow: &LabelSelector, wide: &LabelSelector) -> bool {
    if wide.match_expressions.as_ref().is_some_and(|e| !e.is_empty()) {
        return false;
    }
    wide.match_labels.iter().flatten().all(|(key, value)| fixes(narrow, key, value))
}

/// Whether `selector` only selects objects whose label `key` is `value`.
fn fixes(selector: &LabelSelector, key: &str, value: &str) -> bool {
    selector.match_labels.as_ref().and_then(|l| l.get(key)).is_some_and(|v| v == value)
        || selector.match_expressions.iter().flatten().any(|r| {
            r.key == key && r.operator == "In" && r.values.as_deref().is_some_and(|v| v == [value.to_string()])
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn selector(pairs: &[(&str, &str)], expressions: &[(&str, &str, &[&str])]) -> LabelSelector {
        LabelSelector {
            match_labels: (!pairs.is_empty()).then(|| labels(pairs)),
            match_expressions: (!expressions.is_empty()).then(|| {
                expressions
                    .iter()
                    .map(|(key, operator, values)| LabelSelectorRequirement {
                        key: key.to_string(),
                        operator: operator.to_string(),
                        values: Some(values.iter().map(|v| v.to_string()).collect()),
                    })
                    .collect()
            }),
        }
    }

    #[test]
    fn selection_follows_the_api_servers_rules() {
        let pod = labels(&[("app", "orders"), ("tier", "db")]);
        let cases: &[(LabelSelector, bool)] = &[
            (LabelSelector::default(), true),
            (selector(&[("app", "orders")], &[]), true),
            (selector(&[("app", "carts")], &[]), false),
            (selector(&[], &[("tier", "In", &["db", "cache"])]), true),
            (selector(&[], &[("tier", "NotIn", &["db"])]), false),
            (selector(&[], &[("team", "NotIn", &["x"])]), true),
            (selector(&[], &[("app", "Exists", &[])]), true),
            (selector(&[], &[("app", "DoesNotExist", &[])]), false),
            (selector(&[("app", "orders")], &[("tier", "In", &["web"])]), false),
            (selector(&[], &[("app", "Matches", &["orders"])]), false),
        ];
        for (i, (s, expected)) in cases.iter().enumerate() {
            assert_eq!(selects(s, &pod), *expected, "case {i}: {s:?}");
        }
    }

    #[test]
    fn a_selector_lies_within_another_only_when_it_fixes_every_label_of_it() {
        let ours = selector(&[("app", "orders")], &[]);
        assert!(within(&selector(&[("app", "orders"), ("tier", "web")], &[]), &ours));
        assert!(within(&selector(&[], &[("app", "In", &["orders"])]), &ours));
        assert!(!within(&selector(&[], &[("app", "In", &["orders", "carts"])]), &ours));
        assert!(!within(&selector(&[("tier", "web")], &[]), &ours));
        assert!(!within(&LabelSelector::default(), &ours), "everything is not within one app");
        assert!(within(&ours, &LabelSelector::default()), "everything is within the empty selector");
        assert!(
            !within(&ours, &selector(&[], &[("app", "Exists", &[])])),
            "expressions of the wide side are not trusted"
        );
    }
}
