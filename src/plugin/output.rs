//! `--output text|json|yaml`: the same data, for people or for scripts.

use super::cli::Output;
use super::failure::Failure;
use serde::Serialize;

pub fn print<T: Serialize>(output: Output, value: &T, text: impl FnOnce(&T) -> String) -> Result<(), Failure> {
    let rendered = match output {
        Output::Text => text(value),
        Output::Json => serde_json::to_string_pretty(value).map_err(|e| Failure::Failed(e.to_string()))? + "\n",
        Output::Yaml => yaml_serde::to_string(value).map_err(|e| Failure::Failed(e.to_string()))?,
    };
    print!("{rendered}");
    Ok(())
}
