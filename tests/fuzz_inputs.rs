//! The fuzz targets' inputs replayed on stable (`make unit`): the seeds of
//! fuzz/seeds and every input the fuzzer ever crashed on, kept in
//! fuzz/regressions/<target>/, through the same entry points
//! (servicedb::fuzzing) that `make fuzz` drives with libFuzzer.

use servicedb::fuzzing;
use std::path::Path;

/// Runs `target` over its seeds and regressions; returns the seeds.
fn replay(target: &str, run: fn(&[u8])) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let read = |dir: &str| -> Vec<Vec<u8>> {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else { return Vec::new() };
        entries.map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect()
    };
    let seeds = read("seeds");
    assert!(!seeds.is_empty(), "fuzz/seeds/{target} has no seed");
    for input in seeds.iter().chain(&read("regressions")) {
        run(input);
    }
    seeds
}

#[test]
fn spec_seeds_are_servicedatabases_and_replay() {
    for seed in replay("spec", fuzzing::spec) {
        serde_json::from_slice::<servicedb::api::ServiceDatabase>(&seed).expect("a seed the fuzzer can grow from");
    }
}

#[test]
fn manifest_seeds_are_manifests_and_replay() {
    for seed in replay("manifest", fuzzing::manifest) {
        serde_json::from_slice::<servicedb::backup::Manifest>(&seed).expect("a seed the fuzzer can grow from");
    }
}

#[test]
fn quoting_replays() {
    replay("quoting", fuzzing::quoting);
}

#[test]
fn backup_ids_replay() {
    replay("backup_ids", fuzzing::backup_ids);
}

#[test]
fn endpoint_overrides_replay() {
    replay("endpoint_overrides", fuzzing::endpoint_overrides);
}

#[test]
fn image_catalog_seeds_load_and_replay() {
    for seed in replay("image_catalog", fuzzing::image_catalog) {
        let text = String::from_utf8(seed).unwrap();
        servicedb::engine::ImageCatalog::parse(Path::new("seed.yaml"), &text).expect("the README's catalogue loads");
    }
}

#[test]
fn termination_messages_replay() {
    replay("termination_message", fuzzing::termination_message);
}

/// The check can fail: a secret left in a pod's failure is caught. (This
/// one is made to join the "<redacted>" beside it, which generated secrets,
/// letters and digits, cannot.)
#[test]
#[should_panic(expected = "shows the secret")]
fn a_secret_left_in_a_failure_would_be_reported() {
    let pod = fuzzing::terminated_pod(1, None, "FATAL: xx<red".into());
    fuzzing::assert_redacted(&pod, &["x<red"]);
}
