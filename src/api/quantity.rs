//! Kubernetes resource quantities ("1Gi", "500m", "1e3") as numbers, to
//! compare sizes and to tell a canonicalised value from a changed one.

/// The value of a quantity in base units, or None when it is malformed.
pub fn parse(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    if number.is_empty() || number.chars().filter(|c| *c == '.').count() > 1 {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let multiplier = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp if exp.starts_with(['e', 'E']) => 10f64.powi(exp[1..].parse().ok()?),
        _ => return None,
    };
    Some(value * multiplier)
}

/// Whether two quantity strings denote the same amount ("0.5" and "500m").
pub fn same(a: &str, b: &str) -> bool {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => (x - y).abs() <= f64::EPSILON * x.abs().max(y.abs()) * 4.0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_suffix_kind() {
        assert_eq!(parse("1Gi"), Some(1024.0 * 1024.0 * 1024.0));
        assert_eq!(parse("500m"), Some(0.5));
        assert_eq!(parse("2k"), Some(2000.0));
        assert_eq!(parse("1e3"), Some(1000.0));
        assert_eq!(parse("1.5Gi"), Some(1.5 * 1024.0 * 1024.0 * 1024.0));
    }

    #[test]
    fn rejects_malformed_quantities() {
        for bad in ["", "Gi", "1GB", "1..2", "ten", "1 Gi x"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn canonical_forms_are_the_same_amount() {
        assert!(same("0.5", "500m"));
        assert!(same("1.5Gi", "1536Mi"));
        assert!(same("1", "1000m"));
        assert!(!same("1Gi", "1G"));
        assert!(!same("1Gi", "2Gi"));
        assert!(!same("abc", "abc"), "not quantities: compared as text elsewhere");
    }
}
