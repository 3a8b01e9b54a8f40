//! What a destination holds: every backup under a location with its state
//! (`servicedb backup list`), a full checksum of each (`servicedb backup
//! verify`), and which leftover data objects prune may remove. The
//! decisions are pure functions of the listing; only [`scan`],
//! [`inventory`] and [`verify`] touch the store.

use super::layout::{DATA, MANIFEST, Manifest, data_path, id_time, manifest_path};
use super::pipeline::checksum;
use super::{BackupError, Location};
use crate::units::human_bytes;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::jiff::Timestamp;
use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many manifests are read at a time while listing.
const MANIFESTS_IN_FLIGHT: usize = 8;

/// One row of `servicedb backup list --output json` and `servicedb backup
/// verify --output json` (both print a JSON array of these). The kubectl
/// plugin parses exactly this; keep it stable:
///
/// ```json
/// {"id": "20261129T030000Z-00ff", "startedAt": "2026-11-29T03:00:00Z",
///  "finishedAt": "2026-11-29T03:00:09Z", "engine": "postgres",
///  "engineVersion": "16", "database": "orders", "storedBytes": 40,
///  "dumpBytes": 100, "sha256": "ab…", "location":
///  "s3://bucket/shop/orders/20261129T030000Z-00ff/data.zst",
///  "state": "complete"}
/// ```
///
/// - `id`: the backup's folder under the destination (`<UTC start>-<hex>`).
/// - `startedAt`, `finishedAt`: RFC 3339. For an orphan, `startedAt` comes
///   from the id and `finishedAt` is null.
/// - `engine`, `engineVersion`, `database`, `dumpBytes`, `sha256`: from the
///   manifest; null when there is none (orphan) or it is unreadable.
/// - `storedBytes`: the size the manifest records; without a manifest, the
///   size of the data object.
/// - `location`: the data object, `s3://bucket/prefix/<id>/data.zst` or a path.
/// - `state`: see [`BackupState`].
/// - `message`: present only when the state needs explaining.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupEntry {
    pub id: String,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub engine: Option<String>,
    pub engine_version: Option<String>,
    pub database: Option<String>,
    pub stored_bytes: Option<u64>,
    pub dump_bytes: Option<u64>,
    pub sha256: Option<String>,
    pub location: String,
    pub state: BackupState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The state of one entry, as JSON: `"complete"`, `"missingData"`, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BackupState {
    /// Manifest present, data object present with the recorded size
    /// (checked from the listing; nothing downloaded). Restorable.
    Complete,
    /// Manifest present, data object gone. Not restorable.
    MissingData,
    /// The data object's size differs from the manifest's. Not restorable.
    SizeMismatch,
    /// The manifest cannot be read or parsed. Not restorable.
    Unreadable,
    /// A data object without a manifest: an interrupted prune (the next
    /// backup's prune removes it) or a backup still being written. Not
    /// restorable.
    Orphan,
    /// `verify`: the data object's sha256 matches the manifest.
    Verified,
    /// `verify`: the data object's sha256 differs from the manifest (the
    /// message has both).
    Corrupt,
}

impl BackupState {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupState::Complete => "complete",
            BackupState::MissingData => "missingData",
            BackupState::SizeMismatch => "sizeMismatch",
            BackupState::Unreadable => "unreadable",
            BackupState::Orphan => "orphan",
            BackupState::Verified => "verified",
            BackupState::Corrupt => "corrupt",
        }
    }
}

/// The objects of one backup id, as listed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Objects {
    /// Size of `data.zst`, when it exists.
    pub data: Option<u64>,
    pub manifest: bool,
}

/// Groups listed objects (their path parts below the base, and size) by
/// backup id. Anything that is not `<id>/data.zst` or `<id>/manifest.json`
/// is not ours and is left out.
pub fn group(listed: impl IntoIterator<Item = (Vec<String>, u64)>) -> BTreeMap<String, Objects> {
    let mut ids: BTreeMap<String, Objects> = BTreeMap::new();
    for (parts, size) in listed {
        let [id, file] = parts.as_slice() else { continue };
        match file.as_str() {
            DATA => ids.entry(id.clone()).or_default().data = Some(size),
            MANIFEST => ids.entry(id.clone()).or_default().manifest = true,
            _ => {}
        }
    }
    ids
}

/// One id's entry, from what is stored under it. `manifest` is `None`
/// when there is none, `Some(Err(why))` when it could not be read.
pub fn classify(
    id: &str,
    data: Option<u64>,
    manifest: Option<Result<Manifest, String>>,
    data_location: String,
) -> BackupEntry {
    let bare = |state, message: Option<String>| BackupEntry {
        id: id.to_string(),
        started_at: id_time(id),
        finished_at: None,
        engine: None,
        engine_version: None,
        database: None,
        stored_bytes: data,
        dump_bytes: None,
        sha256: None,
        location: data_location.clone(),
        state,
        message,
    };
    let manifest = match manifest {
        None if data.is_some() => {
            return bare(
                BackupState::Orphan,
                Some(
                    "data without a manifest, not restorable: left by an interrupted prune (the next backup's \
                     prune removes it) or a backup still being written"
                        .into(),
                ),
            );
        }
        None => return bare(BackupState::MissingData, Some("neither manifest nor data".into())),
        Some(Err(why)) => return bare(BackupState::Unreadable, Some(why)),
        Some(Ok(manifest)) => manifest,
    };
    let (state, message) = match data {
        None => (BackupState::MissingData, Some(format!("the data object {} is missing", manifest.location))),
        Some(size) if size != manifest.stored_bytes => (
            BackupState::SizeMismatch,
            Some(format!("the data object has {size} bytes but the manifest says {}", manifest.stored_bytes)),
        ),
        Some(_) => (BackupState::Complete, None),
    };
    BackupEntry {
        id: id.to_string(),
        started_at: Some(manifest.started_at),
        finished_at: Some(manifest.finished_at),
        engine: Some(manifest.engine),
        engine_version: Some(manifest.engine_version),
        database: Some(manifest.database),
        stored_bytes: Some(manifest.stored_bytes),
        dump_bytes: Some(manifest.dump_bytes),
        sha256: Some(manifest.sha256),
        location: manifest.location,
        state,
        message,
    }
}

/// A complete entry after its data was read back whole: `verified` when
/// the sha256 and size match the manifest, `corrupt` (with both hashes)
/// when not. Other states stay as they are: there was nothing to check.
pub fn verdict(mut entry: BackupEntry, actual_sha256: &str, actual_bytes: u64) -> BackupEntry {
    if entry.state != BackupState::Complete {
        return entry;
    }
    let expected = entry.sha256.clone().unwrap_or_default();
    if expected == actual_sha256 && entry.stored_bytes == Some(actual_bytes) {
        entry.state = BackupState::Verified;
        entry.message = None;
    } else {
        entry.state = BackupState::Corrupt;
        entry.message = Some(format!(
            "the data has sha256 {actual_sha256} ({actual_bytes} bytes) but the manifest says {expected} ({} bytes)",
            entry.stored_bytes.unwrap_or_default()
        ));
    }
    entry
}

/// Data objects that prune may delete: no manifest, and older than the
/// newest backup that has one. A data object newer than that may belong to
/// a backup still being verified, and is never touched.
pub fn orphans(ids: &BTreeMap<String, Objects>) -> Vec<String> {
    let Some(newest) = ids.iter().filter(|(_, o)| o.manifest).map(|(id, _)| id).max() else {
        return Vec::new();
    };
    ids.iter()
        .filter(|(id, o)| !o.manifest && o.data.is_some() && *id < newest && id_time(id).is_some())
        .map(|(id, _)| id.clone())
        .collect()
}

/// The objects under the location, grouped by backup id.
pub async fn scan(location: &Location) -> Result<BTreeMap<String, Objects>, BackupError> {
    let listed: Vec<_> =
        location.store.list(Some(&location.base)).try_collect().await.map_err(|e| location.error(e))?;
    Ok(group(listed.into_iter().filter_map(|meta| {
        let parts = meta.location.prefix_match(&location.base)?;
        Some((parts.map(|p| p.as_ref().to_string()).collect(), meta.size))
    })))
}

async fn read_manifest(location: &Location, id: &str) -> Result<Manifest, String> {
    let got = location.store.get(&manifest_path(&location.base, id)).await.map_err(|e| e.to_string())?;
    let body = got.bytes().await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&body).map_err(|e| format!("the manifest is not valid JSON of a servicedb backup: {e}"))
}

/// Every backup (and orphaned data object) under the location, oldest
/// first. Reads the listing and the manifests; no data is downloaded.
pub async fn inventory(location: &Location) -> Result<Vec<BackupEntry>, BackupError> {
    let ids = scan(location).await?;
    futures::stream::iter(ids)
        .map(|(id, objects)| async move {
            let manifest = match objects.manifest {
                true => Some(read_manifest(location, &id).await),
                false => None,
            };
            classify(&id, objects.data, manifest, location.describe(&id, DATA))
        })
        .buffered(MANIFESTS_IN_FLIGHT)
        .map(Ok)
        .try_collect()
        .await
}

/// Which entries `verify` checks: the given ids (each must exist), or with
/// none every backup that has a manifest (an orphan is no backup).
pub fn select(entries: Vec<BackupEntry>, ids: &[String], destination: &str) -> Result<Vec<BackupEntry>, BackupError> {
    if ids.is_empty() {
        return Ok(entries.into_iter().filter(|e| e.state != BackupState::Orphan).collect());
    }
    let mut by_id: BTreeMap<String, BackupEntry> = entries.into_iter().map(|e| (e.id.clone(), e)).collect();
    ids.iter()
        .map(|id| {
            by_id
                .remove(id)
                .ok_or_else(|| BackupError::NotFound { wanted: id.clone(), destination: destination.to_string() })
        })
        .collect()
}

/// Reads each complete entry's data back whole (streamed, as a restore
/// does) and compares its sha256 with the manifest.
pub async fn verify(location: &Location, entries: Vec<BackupEntry>) -> Result<Vec<BackupEntry>, BackupError> {
    let mut checked = Vec::with_capacity(entries.len());
    for entry in entries {
        if entry.state != BackupState::Complete {
            checked.push(entry);
            continue;
        }
        let started = std::time::Instant::now();
        tracing::info!(id = %entry.id, bytes = entry.stored_bytes, "verifying");
        let (sha256, bytes, _) = checksum(location, &data_path(&location.base, &entry.id)).await?;
        let entry = verdict(entry, &sha256, bytes);
        tracing::info!(id = %entry.id, state = entry.state.as_str(), seconds = started.elapsed().as_secs_f32(), "checked");
        checked.push(entry);
    }
    Ok(checked)
}

/// The entries as an aligned table, with a line per message below it.
pub fn table(entries: &[BackupEntry]) -> String {
    let time = |t: &Option<Timestamp>| t.map_or("-".to_string(), |t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string());
    let text = |s: &Option<String>| s.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "-".into());
    let size = |b: &Option<u64>| b.map_or("-".to_string(), human_bytes);
    let header = ["ID", "STATE", "STARTED", "FINISHED", "STORED", "DUMP", "ENGINE", "VERSION", "DATABASE"];
    let rows: Vec<[String; 9]> = entries
        .iter()
        .map(|e| {
            [
                e.id.clone(),
                e.state.as_str().to_string(),
                time(&e.started_at),
                time(&e.finished_at),
                size(&e.stored_bytes),
                size(&e.dump_bytes),
                text(&e.engine),
                text(&e.engine_version),
                text(&e.database),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out += &line(row.iter().map(String::as_str).collect());
    }
    for entry in entries {
        if let Some(message) = &entry.message {
            out += &format!("{}: {message}\n", entry.id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "20261129T030000Z-0001";
    const MID: &str = "20261129T040000Z-0002";
    const NEW: &str = "20261129T050000Z-0003";

    fn manifest(id: &str, stored: u64) -> Manifest {
        Manifest {
            id: id.into(),
            engine: "postgres".into(),
            engine_version: "16".into(),
            database: "orders".into(),
            tool: "pg_dump".into(),
            compression: "zstd".into(),
            started_at: id_time(id).unwrap(),
            finished_at: id_time(id).unwrap() + k8s_openapi::jiff::SignedDuration::from_secs(9),
            dump_bytes: 100,
            stored_bytes: stored,
            sha256: "ab".repeat(32),
            location: format!("s3://b/p/{id}/data.zst"),
        }
    }

    fn listed(paths: &[(&str, u64)]) -> BTreeMap<String, Objects> {
        group(paths.iter().map(|(p, size)| (p.split('/').map(String::from).collect(), *size)))
    }

    #[test]
    fn objects_group_by_id_and_strangers_are_left_out() {
        let ids = listed(&[
            (&format!("{OLD}/data.zst"), 40),
            (&format!("{OLD}/manifest.json"), 300),
            (&format!("{MID}/data.zst"), 7),
            ("notes.txt", 1),
            (&format!("{NEW}/data.zst.partial"), 3),
            (&format!("deeper/{NEW}/manifest.json"), 3),
        ]);
        assert_eq!(
            ids,
            BTreeMap::from([
                (OLD.to_string(), Objects { data: Some(40), manifest: true }),
                (MID.to_string(), Objects { data: Some(7), manifest: false }),
            ])
        );
    }

    #[test]
    fn a_manifest_and_data_of_the_recorded_size_is_complete() {
        let entry = classify(OLD, Some(40), Some(Ok(manifest(OLD, 40))), "ignored".into());
        assert_eq!(entry.state, BackupState::Complete);
        assert_eq!(entry.message, None);
        assert_eq!((entry.stored_bytes, entry.dump_bytes), (Some(40), Some(100)));
        assert_eq!(entry.location, format!("s3://b/p/{OLD}/data.zst"));
        assert_eq!(entry.engine.as_deref(), Some("postgres"));
    }

    #[test]
    fn missing_or_resized_data_and_bad_manifests_are_not_complete() {
        let missing = classify(OLD, None, Some(Ok(manifest(OLD, 40))), "x".into());
        assert_eq!(missing.state, BackupState::MissingData);
        assert!(missing.message.unwrap().contains("is missing"));

        let resized = classify(OLD, Some(39), Some(Ok(manifest(OLD, 40))), "x".into());
        assert_eq!(resized.state, BackupState::SizeMismatch);
        assert_eq!(resized.message.as_deref(), Some("the data object has 39 bytes but the manifest says 40"));

        let unreadable = classify(OLD, Some(39), Some(Err("not JSON".into())), "s3://b/p/x/data.zst".into());
        assert_eq!((unreadable.state, unreadable.stored_bytes), (BackupState::Unreadable, Some(39)));
        assert_eq!(unreadable.message.as_deref(), Some("not JSON"));
    }

    #[test]
    fn data_without_a_manifest_is_an_orphan_dated_by_its_id() {
        let entry = classify(MID, Some(7), None, "s3://b/p/mid/data.zst".into());
        assert_eq!(entry.state, BackupState::Orphan);
        assert_eq!(entry.started_at, id_time(MID));
        assert_eq!((entry.stored_bytes, entry.engine), (Some(7), None));
        assert_eq!(entry.location, "s3://b/p/mid/data.zst");
    }

    #[test]
    fn verify_compares_both_hashes() {
        let complete = classify(OLD, Some(40), Some(Ok(manifest(OLD, 40))), "x".into());
        assert_eq!(verdict(complete.clone(), &"ab".repeat(32), 40).state, BackupState::Verified);
        let corrupt = verdict(complete, &"cd".repeat(32), 40);
        assert_eq!(corrupt.state, BackupState::Corrupt);
        let message = corrupt.message.unwrap();
        assert!(message.contains(&"cd".repeat(32)) && message.contains(&"ab".repeat(32)), "{message}");
        let orphan = classify(MID, Some(7), None, "x".into());
        assert_eq!(verdict(orphan, "whatever", 7).state, BackupState::Orphan, "nothing to check");
    }

    #[test]
    fn only_data_older_than_the_newest_complete_backup_is_an_orphan() {
        // OLD lost its manifest in an interrupted prune; NEW is a backup in
        // progress (data uploaded, not yet verified) after the newest MID.
        let ids = listed(&[
            (&format!("{OLD}/data.zst"), 40),
            (&format!("{MID}/data.zst"), 40),
            (&format!("{MID}/manifest.json"), 300),
            (&format!("{NEW}/data.zst"), 40),
        ]);
        assert_eq!(orphans(&ids), vec![OLD.to_string()]);
        // With no complete backup at all, nothing is known to be finished.
        let none = listed(&[(&format!("{OLD}/data.zst"), 40)]);
        assert!(orphans(&none).is_empty());
        // A manifest without data is a broken backup, not an orphan.
        let broken = listed(&[(&format!("{OLD}/manifest.json"), 1), (&format!("{MID}/manifest.json"), 1)]);
        assert!(orphans(&broken).is_empty());
    }

    #[test]
    fn verify_selects_named_backups_or_every_one_with_a_manifest() {
        let entries = vec![
            classify(OLD, Some(40), Some(Ok(manifest(OLD, 40))), "x".into()),
            classify(MID, Some(7), None, "x".into()),
        ];
        let all = select(entries.clone(), &[], "d").unwrap();
        assert_eq!(all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), vec![OLD]);
        assert_eq!(select(entries.clone(), &[MID.to_string()], "d").unwrap()[0].state, BackupState::Orphan);
        let err = select(entries, &["nope".to_string()], "d").unwrap_err().to_string();
        assert_eq!(err, "no backup nope at d");
    }

    #[test]
    fn json_rows_have_the_documented_field_names() {
        let entry = classify(OLD, Some(40), Some(Ok(manifest(OLD, 40))), "x".into());
        let json = serde_json::to_value(&entry).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "database",
                "dumpBytes",
                "engine",
                "engineVersion",
                "finishedAt",
                "id",
                "location",
                "sha256",
                "startedAt",
                "state",
                "storedBytes"
            ]
        );
        assert_eq!(json["state"], "complete");
        assert_eq!(json["startedAt"], "2026-11-29T03:00:00Z");
        let orphan = serde_json::to_value(classify(MID, Some(7), None, "x".into())).unwrap();
        assert_eq!((orphan["state"].as_str(), orphan["engine"].is_null()), (Some("orphan"), true));
        assert!(orphan["message"].is_string());
    }

    #[test]
    fn the_table_is_aligned_with_human_sizes() {
        let entries = vec![
            classify(OLD, Some(40), Some(Ok(manifest(OLD, 40))), "x".into()),
            classify(MID, Some(3 << 20), None, "x".into()),
        ];
        let table = table(&entries);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("ID                     STATE     STARTED"), "{table}");
        assert!(lines[1].contains("complete") && lines[1].contains("40 B") && lines[1].contains("postgres"), "{table}");
        assert!(lines[2].contains("orphan") && lines[2].contains("3.0 MiB"), "{table}");
        assert_eq!(lines[0].find("STATE"), lines[2].find("orphan"), "columns align:\n{table}");
        assert!(lines[3].starts_with(&format!("{MID}: data without a manifest")), "{table}");
    }
}
