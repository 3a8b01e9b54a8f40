//! Where a backup lives under its destination, and the manifest that
//! describes it: `<base>/<id>/data.zst` and `<base>/<id>/manifest.json`.
//! Ids start with the UTC time, so sorting them sorts backups by age.

use k8s_openapi::jiff::Timestamp;
use object_store::path::Path;
use serde::{Deserialize, Serialize};

pub const DATA: &str = "data.zst";
pub const MANIFEST: &str = "manifest.json";

/// `20261129T101500Z-3f9a`: the start time, and random hex so that two
/// backups started in the same second never share a key.
pub fn backup_id(started: Timestamp, random: u16) -> String {
    format!("{}-{random:04x}", started.strftime("%Y%m%dT%H%M%SZ"))
}

/// The start time encoded in an id, when it is one of ours.
pub fn id_time(id: &str) -> Option<Timestamp> {
    let stamp = id.get(..16)?;
    k8s_openapi::jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", stamp)
        .ok()?
        .to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

pub fn data_path(base: &Path, id: &str) -> Path {
    base.clone().join(id).join(DATA)
}

pub fn manifest_path(base: &Path, id: &str) -> Path {
    base.clone().join(id).join(MANIFEST)
}

/// Written last: a backup without a manifest is not a backup.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub id: String,
    /// `postgres`, `mysql`, `mariadb` or `redis`.
    pub engine: String,
    pub engine_version: String,
    pub database: String,
    /// The dump program, e.g. `pg_dump`.
    pub tool: String,
    pub compression: String,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// Bytes the dump tool wrote.
    pub dump_bytes: u64,
    /// Bytes stored (compressed).
    pub stored_bytes: u64,
    /// SHA-256 of the stored data object, hex.
    pub sha256: String,
    /// Where the data object is, as a URL-like string for humans.
    pub location: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_decode() {
        let early = Timestamp::from_second(1_800_000_000).unwrap();
        let late = Timestamp::from_second(1_800_000_001).unwrap();
        let (a, b) = (backup_id(early, 0xffff), backup_id(late, 0));
        assert_eq!(a, "20270115T080000Z-ffff");
        assert!(a < b);
        assert_eq!(id_time(&a), Some(early));
        assert_eq!(id_time("not-a-backup"), None);
    }

    #[test]
    fn objects_live_under_the_id() {
        let base = Path::from("backups/shop/orders");
        assert_eq!(data_path(&base, "x").as_ref(), "backups/shop/orders/x/data.zst");
        assert_eq!(manifest_path(&base, "x").as_ref(), "backups/shop/orders/x/manifest.json");
    }
}
