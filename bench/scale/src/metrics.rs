//! The operator's own Prometheus metrics (its `--http-address` /metrics):
//! the reconcile counter and the reconcile duration histogram
//! (src/metrics.rs), read as text and subtracted between two scrapes.

use std::collections::BTreeMap;

pub const RECONCILES: &str = "servicedb_reconciles_total";
pub const DURATION: &str = "servicedb_reconcile_duration_seconds";
pub const ERRORS: &str = "servicedb_reconcile_errors_total";

/// One scrape: reconciles, errors by reason, and the duration histogram's
/// cumulative buckets (upper bound -> count; `f64::INFINITY` for `+Inf`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scrape {
    pub reconciles: f64,
    pub errors: BTreeMap<String, f64>,
    pub buckets: Vec<(f64, f64)>,
}

fn label<'a>(labels: &'a str, key: &str) -> Option<&'a str> {
    let start = labels.find(&format!("{key}=\""))? + key.len() + 2;
    let rest = &labels[start..];
    Some(&rest[..rest.find('"')?])
}

/// Parses the Prometheus text format, keeping only what the bench reads.
pub fn parse(text: &str) -> Scrape {
    let mut scrape = Scrape::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.trim().parse::<f64>() else { continue };
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, labels),
            None => (series, ""),
        };
        if name == RECONCILES {
            scrape.reconciles = value;
        } else if name == ERRORS {
            let reason = label(labels, "reason").unwrap_or("unknown").to_string();
            *scrape.errors.entry(reason).or_default() += value;
        } else if name == format!("{DURATION}_bucket") {
            let le = match label(labels, "le") {
                Some("+Inf") => f64::INFINITY,
                Some(bound) => bound.parse().unwrap_or(f64::INFINITY),
                None => continue,
            };
            scrape.buckets.push((le, value));
        }
    }
    scrape.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    scrape
}

impl Scrape {
    /// What happened between `earlier` and this scrape.
    pub fn since(&self, earlier: &Scrape) -> Scrape {
        let before = |le: f64| earlier.buckets.iter().find(|(b, _)| *b == le).map_or(0.0, |(_, c)| *c);
        Scrape {
            reconciles: self.reconciles - earlier.reconciles,
            errors: self
                .errors
                .iter()
                .map(|(k, v)| (k.clone(), v - earlier.errors.get(k).copied().unwrap_or(0.0)))
                .filter(|(_, v)| *v > 0.0)
                .collect(),
            buckets: self.buckets.iter().map(|(le, c)| (*le, c - before(*le))).collect(),
        }
    }

    /// The highest finite bucket bound.
    pub fn top(&self) -> f64 {
        self.buckets.iter().map(|(le, _)| *le).filter(|le| le.is_finite()).fold(0.0, f64::max)
    }

    pub fn observations(&self) -> f64 {
        self.buckets.last().map_or(0.0, |(_, c)| *c)
    }

    /// The q-quantile of the histogram as Prometheus' `histogram_quantile`
    /// estimates it: linear within the bucket it falls in. `None` without
    /// observations; infinity when it falls in `+Inf` (beyond [`Self::top`]).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.observations();
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let mut lower = (0.0, 0.0);
        for &(le, count) in &self.buckets {
            if count >= rank {
                if le.is_infinite() {
                    return Some(f64::INFINITY);
                }
                let within = count - lower.1;
                let share = if within > 0.0 { (rank - lower.1) / within } else { 1.0 };
                return Some(lower.0 + (le - lower.0) * share);
            }
            lower = (le, count);
        }
        Some(lower.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP servicedb_reconciles Reconciles\n\
        servicedb_reconciles_total 120\n\
        servicedb_reconcile_errors_total{reason=\"administration\"} 3\n\
        servicedb_reconcile_duration_seconds_bucket{le=\"0.01\"} 10\n\
        servicedb_reconcile_duration_seconds_bucket{le=\"0.05\"} 60\n\
        servicedb_reconcile_duration_seconds_bucket{le=\"0.1\"} 100\n\
        servicedb_reconcile_duration_seconds_bucket{le=\"+Inf\"} 120\n\
        servicedb_reconcile_duration_seconds_sum 9.5\n";

    #[test]
    fn reads_the_counter_errors_and_buckets() {
        let s = parse(TEXT);
        assert_eq!(s.reconciles, 120.0);
        assert_eq!(s.errors.get("administration"), Some(&3.0));
        assert_eq!(s.buckets.len(), 4);
        assert_eq!(s.observations(), 120.0);
    }

    #[test]
    fn quantiles_interpolate_within_a_bucket_as_prometheus_does() {
        let s = parse(TEXT);
        // rank 60 is the top of the 0.05 bucket
        assert!((s.quantile(0.5).unwrap() - 0.05).abs() < 1e-9);
        // rank 80: half-way through (0.05, 0.1]
        assert!((s.quantile(80.0 / 120.0).unwrap() - 0.075).abs() < 1e-9);
        // in +Inf: beyond the highest finite bound
        assert_eq!(s.quantile(0.99), Some(f64::INFINITY));
        assert_eq!(s.top(), 0.1);
        assert_eq!(Scrape::default().quantile(0.5), None);
    }

    #[test]
    fn a_difference_covers_only_the_window() {
        let before = parse(TEXT);
        let after = parse(&TEXT.replace(" 120\n", " 220\n").replace("le=\"0.01\"} 10", "le=\"0.01\"} 110"));
        let d = after.since(&before);
        assert_eq!(d.reconciles, 100.0);
        assert_eq!(d.buckets[0], (0.01, 100.0));
        assert_eq!(d.observations(), 100.0);
        assert!(d.quantile(0.99).unwrap() <= 0.01);
        assert!(d.errors.is_empty());
    }
}
