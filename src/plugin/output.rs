//! `--output text|json|yaml`: the same data, for people or for scripts.

use super::cli::Output;
use super::failure::Failure;
use serde::Serialize;

pub fn print<T: Serialize>(output: Output, value: &T, text: impl FnOnce(&T) -> String) -> Result<(), Failure> {
    let rendered = match output {
        Output::Text => text(value),
        Output::Json => serde_json::to_string_pretty(value).map_err(|e| Failure::Failed(e.to_string()))? + "\n",
        Output::Yaml => serde_yaml::to_string(value).map_err(|e| Failure::Failed(e.to_string()))?,
    };
    print!("{rendered}");
    Ok(())
}

/// `1.5 MiB` for people; the exact byte count stays in JSON/YAML.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
    }
}
