//! Shell completion: clap's scripts for `kubectl-servicedb` itself, and
//! kubectl's plugin protocol: kubectl runs `kubectl_complete-servicedb
//! ARGS...` and reads one candidate per line, then `:<directive>`.

use super::cli::{Cli, CompletionShell};
use super::target::Target;
use crate::api::ServiceDatabase;
use clap::CommandFactory;
use kube::ResourceExt;
use kube::api::ListParams;

/// The executable kubectl looks for on the PATH.
pub const KUBECTL_COMPLETE_SCRIPT: &str = "#!/bin/sh
# kubectl's completion of `kubectl servicedb ...`: save as an executable
# `kubectl_complete-servicedb` on the PATH, next to kubectl-servicedb.
exec kubectl-servicedb __complete \"$@\"
";

/// cobra's ShellCompDirectiveNoFileComp: no file names.
const NO_FILES: &str = ":4";

pub fn script(shell: CompletionShell) -> String {
    let shell = match shell {
        CompletionShell::Kubectl => return KUBECTL_COMPLETE_SCRIPT.to_string(),
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "kubectl-servicedb", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// What to complete at the end of `words` (the last one is being typed).
#[derive(Debug, PartialEq, Eq)]
pub enum Want {
    Verbs(String),
    Instances { namespace: Option<String>, prefix: String },
    Shells(String),
    Nothing,
}

const NAMED: [&str; 8] = ["status", "backup", "backups", "restore", "rotate", "pause", "resume", "connect"];

pub fn want(words: &[String]) -> Want {
    let mut namespace = None;
    let mut positional = Vec::new();
    let mut iter = words.iter().peekable();
    while let Some(w) = iter.next() {
        let last = iter.peek().is_none();
        if !last && (w == "-n" || w == "--namespace") {
            namespace = iter.next().filter(|_| iter.peek().is_some()).cloned();
        } else if let Some(ns) = w.strip_prefix("--namespace=") {
            namespace = Some(ns.to_string());
        } else if !w.starts_with('-') || last {
            positional.push(w.clone());
        }
    }
    let prefix = positional.last().cloned().unwrap_or_default();
    match positional.len() {
        0 | 1 => Want::Verbs(prefix),
        2 if positional[0] == "completion" => Want::Shells(prefix),
        2 if NAMED.contains(&positional[0].as_str()) => Want::Instances { namespace, prefix },
        _ => Want::Nothing,
    }
}

pub fn verbs() -> Vec<String> {
    Cli::command().get_subcommands().filter(|c| !c.is_hide_set()).map(|c| c.get_name().to_string()).collect()
}

pub async fn complete(words: &[String]) {
    let candidates: Vec<String> = match want(words) {
        Want::Verbs(prefix) => verbs().into_iter().filter(|v| v.starts_with(&prefix)).collect(),
        Want::Shells(prefix) => ["bash", "zsh", "fish", "kubectl"]
            .iter()
            .filter(|s| s.starts_with(&prefix))
            .map(|s| s.to_string())
            .collect(),
        Want::Instances { namespace, prefix } => match Target::connect(namespace).await {
            Ok(target) => match target.api::<ServiceDatabase>().list(&ListParams::default()).await {
                Ok(list) => list.items.iter().map(|s| s.name_any()).filter(|n| n.starts_with(&prefix)).collect(),
                Err(_) => Vec::new(),
            },
            Err(_) => Vec::new(),
        },
        Want::Nothing => Vec::new(),
    };
    for c in candidates {
        println!("{c}");
    }
    println!("{NO_FILES}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn what_to_complete() {
        assert_eq!(want(&w(&[""])), Want::Verbs(String::new()));
        assert_eq!(want(&w(&["ba"])), Want::Verbs("ba".into()));
        assert_eq!(want(&w(&["status", "or"])), Want::Instances { namespace: None, prefix: "or".into() });
        assert_eq!(
            want(&w(&["-n", "shop", "backup", ""])),
            Want::Instances { namespace: Some("shop".into()), prefix: String::new() }
        );
        assert_eq!(want(&w(&["completion", "b"])), Want::Shells("b".into()));
        assert_eq!(want(&w(&["status", "orders", ""])), Want::Nothing);
        assert!(verbs().contains(&"backups".to_string()) && !verbs().contains(&"__complete".to_string()));
    }

    #[test]
    fn scripts_for_every_shell() {
        assert!(script(CompletionShell::Bash).contains("kubectl-servicedb"));
        assert!(script(CompletionShell::Fish).contains("backups"));
        assert!(script(CompletionShell::Kubectl).contains("exec kubectl-servicedb __complete \"$@\""));
    }
}
