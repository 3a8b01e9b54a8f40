//! A test that keeps the crate's module graph acyclic: `cluster` at the
//! bottom, `operator`, `standin`, `audit`, `analyzer` on it, `harness` (the
//! stand-in phase's Env) on those, the scenarios of each phase on top, and
//! inside a folder the shared modules (`pods/env`, `pods/client`) below the
//! scenario files. A cycle makes a module impossible to read or test alone.

#![cfg(test)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `folder/file` (or `file`, or `folder` for its mod.rs) for a source path.
fn node(relative: &Path) -> String {
    let stem = relative.with_extension("").to_string_lossy().replace('\\', "/");
    stem.strip_suffix("/mod").map(str::to_string).unwrap_or(stem)
}

/// The identifiers that follow `prefix` in `text` (`crate::` -> `cluster`).
fn after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Module -> the modules it names, from `crate::a::b` and `super::b` paths
/// (a folder's mod.rs also names its children as `child::`).
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let nodes: BTreeSet<String> = files.iter().map(|f| node(f.strip_prefix(src).unwrap())).collect();
    let resolve = |folder: &str, name: &str| {
        let child = if folder.is_empty() { name.to_string() } else { format!("{folder}/{name}") };
        nodes.contains(&child).then_some(child)
    };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let me = node(file.strip_prefix(src).unwrap());
        if me == "main" || me == "layers" {
            continue; // The root declares and runs everything.
        }
        let text = std::fs::read_to_string(file).unwrap();
        let is_folder = file.file_name().is_some_and(|n| n == "mod.rs");
        let folder =
            if is_folder { me.clone() } else { me.rsplit_once('/').map(|(f, _)| f.to_string()).unwrap_or_default() };
        let mut named = BTreeSet::new();
        for (i, _) in text.match_indices("crate::") {
            let path = &text[i + "crate::".len()..];
            let mut parts =
                path.split("::").map(|p| p.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or(""));
            let (Some(top), next) = (parts.next(), parts.next()) else { continue };
            let target = next.and_then(|n| resolve(top, n)).or_else(|| resolve("", top));
            named.extend(target);
        }
        for name in after(&text, "super::") {
            named.extend(resolve(&folder, name).or_else(|| (!folder.is_empty()).then(|| folder.clone())));
        }
        if is_folder {
            for name in nodes.iter().filter_map(|n| n.strip_prefix(&format!("{me}/"))) {
                if text.contains(&format!("{name}::")) {
                    named.insert(format!("{me}/{name}"));
                }
            }
        }
        named.remove(&me);
        edges.insert(me, named);
    }
    edges
}

/// One cycle, as the path that closes it, if any.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        at: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|p| p == at) {
            let mut found = path[start..].to_vec();
            found.push(at.to_string());
            return Some(found);
        }
        if done.contains(at) {
            return None;
        }
        path.push(at.to_string());
        for next in edges.get(at).into_iter().flatten() {
            if let Some(found) = visit(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(at.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|start| visit(start, edges, &mut Vec::new(), &mut done))
}

#[test]
fn the_module_graph_has_no_cycle() {
    let edges = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(edges.get("harness").is_some_and(|e| e.contains("cluster")), "the reader found no edges: {edges:?}");
    assert!(edges.get("pods/plugin").is_some_and(|e| e.contains("pods/env")), "{edges:?}");
    assert_eq!(cycle(&edges), None, "an import cycle in e2e/src; move what both need into a lower module");
}

#[test]
fn the_cycle_finder_finds_one() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["c".to_string()])),
        ("c".to_string(), BTreeSet::from(["a".to_string()])),
    ]
    .into();
    assert_eq!(cycle(&edges), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
}
