//! The image catalogue: one YAML file naming the image of every engine
//! version and exporter the operator may run, for mirrored or air-gapped
//! registries (`servicedb run --image-catalog FILE`). Read and checked once
//! at start; a bad file stops the operator before it touches anything.
//!
//! ```yaml
//! engines:                  # engine -> version -> image
//!   postgres: {"15": registry.example/postgres:15}
//! exporters:                # engine -> image of its metrics exporter
//!   postgres: registry.example/postgres-exporter:v0.17.1
//! ```

use crate::api;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The file as written. Versions are strings: YAML would read `10.10` as
/// the number 10.1, but a string field takes the scalar as written.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    engines: HashMap<api::Engine, BTreeMap<String, String>>,
    #[serde(default)]
    exporters: HashMap<api::Engine, String>,
}

/// A checked catalogue: every version is one the operator supports, every
/// image a non-empty reference without spaces.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageCatalog {
    path: PathBuf,
    engines: HashMap<api::Engine, BTreeMap<String, String>>,
    exporters: HashMap<api::Engine, String>,
}

/// Why a catalogue cannot be used; each names the file and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read the image catalogue {path} (--image-catalog): {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the image catalogue {path} (--image-catalog) is not valid: {source}; the format is `engines: {{<engine>: {{\"<version>\": <image>}}}}` and `exporters: {{<engine>: <image>}}`, engines being postgres, mysql, mariadb, redis"
    )]
    Parse {
        path: PathBuf,
        #[source]
        source: yaml_serde::Error,
    },
    #[error(
        "the image catalogue {path} (--image-catalog) lists no database image; add entries under `engines` or drop the flag to use the official images"
    )]
    Empty { path: PathBuf },
    #[error(
        "the image catalogue {path} (--image-catalog) lists {engine} version {version:?}, which servicedb does not support; supported {engine} versions: {supported}"
    )]
    UnsupportedVersion { path: PathBuf, engine: &'static str, version: String, supported: String },
    #[error(
        "the image catalogue {path} (--image-catalog) has {image:?} for {entry}; give an image reference such as registry.example/{repository}:tag"
    )]
    BadImage { path: PathBuf, entry: String, image: String, repository: &'static str },
}

fn is_image_reference(image: &str) -> bool {
    !image.is_empty() && !image.contains(char::is_whitespace)
}

impl ImageCatalog {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, CatalogError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| CatalogError::Read { path: path.to_path_buf(), source })?;
        Self::parse(path, &text)
    }

    /// Checks the text of the file at `path` (named in the errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self, CatalogError> {
        let path = path.to_path_buf();
        let file: File = match yaml_serde::from_str(text) {
            Ok(file) => file,
            Err(source) => return Err(CatalogError::Parse { path, source }),
        };
        // Checked in a fixed order, so that the same file gives the same error.
        for engine in api::Engine::ALL {
            let supported = super::for_kind(engine).supported_versions();
            for (version, image) in file.engines.get(&engine).into_iter().flatten() {
                if !supported.contains(&version.as_str()) {
                    return Err(CatalogError::UnsupportedVersion {
                        path,
                        engine: engine.as_str(),
                        version: version.clone(),
                        supported: supported.join(", "),
                    });
                }
                if !is_image_reference(image) {
                    return Err(CatalogError::BadImage {
                        path,
                        entry: format!("engines.{}.{version:?}", engine.as_str()),
                        image: image.clone(),
                        repository: engine.as_str(),
                    });
                }
            }
            if let Some(image) = file.exporters.get(&engine).filter(|image| !is_image_reference(image)) {
                return Err(CatalogError::BadImage {
                    path,
                    entry: format!("exporters.{}", engine.as_str()),
                    image: image.clone(),
                    repository: "exporter",
                });
            }
        }
        if file.engines.values().all(BTreeMap::is_empty) {
            return Err(CatalogError::Empty { path });
        }
        Ok(Self { path, engines: file.engines, exporters: file.exporters })
    }

    /// The file the catalogue came from, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The image of one version of an engine, if listed.
    pub fn database_image(&self, engine: api::Engine, version: &str) -> Option<&str> {
        self.engines.get(&engine)?.get(version).map(String::as_str)
    }

    /// The versions of an engine the catalogue lists, oldest first.
    pub fn versions(&self, engine: api::Engine) -> Vec<&'static str> {
        let listed = self.engines.get(&engine);
        super::for_kind(engine)
            .supported_versions()
            .iter()
            .copied()
            .filter(|v| listed.is_some_and(|versions| versions.contains_key(*v)))
            .collect()
    }

    /// The image of an engine's metrics exporter, if listed.
    pub fn exporter_image(&self, engine: api::Engine) -> Option<&str> {
        self.exporters.get(&engine).map(String::as_str)
    }

    /// How many images the catalogue names, for the start-up log.
    pub fn len(&self) -> usize {
        self.engines.values().map(BTreeMap::len).sum::<usize>() + self.exporters.len()
    }

    /// Never true for a loaded catalogue (an empty one is refused).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::Engine::{Mariadb, Mysql, Postgres, Redis};

    const PATH: &str = "/etc/servicedb/image-catalog.yaml";

    fn parse(text: &str) -> Result<ImageCatalog, CatalogError> {
        ImageCatalog::parse(Path::new(PATH), text)
    }

    const E2E: &str = r#"
# engine -> version -> image; exporters: engine -> image
engines:
  postgres: {"15": "localhost/servicedb/postgres:15"}
  mariadb: {"10.11": "localhost/servicedb/mariadb:10.11"}
  redis: {"7.2": "localhost/servicedb/redis:7"}
exporters:
  postgres: localhost/servicedb/postgres-exporter:bookworm
  mariadb: localhost/servicedb/mysqld-exporter:bookworm
  redis: localhost/servicedb/redis-exporter:bookworm
"#;

    #[test]
    fn a_catalogue_names_images_per_engine_version_and_exporter() {
        let catalog = parse(E2E).unwrap();
        assert_eq!(catalog.path(), Path::new(PATH));
        assert_eq!(catalog.database_image(Postgres, "15"), Some("localhost/servicedb/postgres:15"));
        assert_eq!(catalog.database_image(Postgres, "16"), None);
        assert_eq!(catalog.database_image(Mariadb, "10.11"), Some("localhost/servicedb/mariadb:10.11"));
        assert_eq!(catalog.database_image(Mysql, "8.4"), None);
        assert_eq!(catalog.versions(Redis), ["7.2"]);
        assert!(catalog.versions(Mysql).is_empty());
        assert_eq!(catalog.exporter_image(Redis), Some("localhost/servicedb/redis-exporter:bookworm"));
        assert_eq!(catalog.exporter_image(Mysql), None);
        assert_eq!(catalog.len(), 6);
    }

    #[test]
    fn versions_are_taken_as_written_quoted_or_not() {
        let catalog =
            parse("engines: {mariadb: {10.11: m:10.11, 11.4: m:11.4}, postgres: {16: p:16, 15: p:15}}").unwrap();
        assert_eq!(catalog.database_image(Mariadb, "10.11"), Some("m:10.11"));
        assert_eq!(catalog.versions(Mariadb), ["10.11", "11.4"]);
        assert_eq!(catalog.versions(Postgres), ["15", "16"], "in the engine's order");
    }

    #[test]
    fn an_unknown_engine_or_field_is_refused_naming_the_file() {
        let err = parse("engines: {postgress: {'15': p:15}}").unwrap_err().to_string();
        assert!(err.starts_with(&format!("the image catalogue {PATH} (--image-catalog) is not valid: ")), "{err}");
        assert!(
            err.contains("unknown variant `postgress`, expected one of `postgres`, `mysql`, `mariadb`, `redis`"),
            "{err}"
        );
        let err = parse("engine: {postgres: {'15': p:15}}").unwrap_err().to_string();
        assert!(err.contains("unknown field `engine`, expected `engines` or `exporters`"), "{err}");
        let err = parse("exporters: {mongodb: x}\nengines: {postgres: {'15': p}}").unwrap_err().to_string();
        assert!(err.contains("unknown variant `mongodb`"), "{err}");
        assert!(matches!(parse("engines: [postgres]"), Err(CatalogError::Parse { .. })));
    }

    #[test]
    fn an_unsupported_version_is_refused_with_the_supported_ones() {
        let err = parse("engines: {postgres: {'14': p:14}}").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the image catalogue {PATH} (--image-catalog) lists postgres version \"14\", which servicedb does not support; supported postgres versions: 15, 16, 17, 18"
            )
        );
        let err = parse("engines: {mariadb: {10.1: m}}").unwrap_err().to_string();
        assert!(err.contains("mariadb version \"10.1\""), "{err}");
    }

    #[test]
    fn empty_images_are_refused_naming_the_entry() {
        let err = parse("engines: {postgres: {'15': ''}}").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the image catalogue {PATH} (--image-catalog) has \"\" for engines.postgres.\"15\"; give an image reference such as registry.example/postgres:tag"
            )
        );
        let err = parse("engines: {postgres: {'15': p:15}}\nexporters: {redis: '  '}").unwrap_err().to_string();
        assert!(err.contains("for exporters.redis;"), "{err}");
        let err = parse("engines: {redis: {'7.2': 'redis 7'}}").unwrap_err().to_string();
        assert!(err.contains("\"redis 7\" for engines.redis.\"7.2\""), "{err}");
        // A missing image reads as an empty one.
        assert!(matches!(parse("engines: {postgres: {'15': }}"), Err(CatalogError::BadImage { .. })));
    }

    #[test]
    fn a_catalogue_without_database_images_is_refused() {
        for text in ["", "engines: {}", "engines: {postgres: {}}\nexporters: {postgres: x}"] {
            let err = parse(text).map(|_| ()).unwrap_err();
            assert!(matches!(err, CatalogError::Empty { .. } | CatalogError::Parse { .. }), "{text:?}: {err}");
            assert!(err.to_string().contains(PATH), "{err}");
        }
    }

    #[test]
    fn a_missing_file_says_which() {
        let err = ImageCatalog::load(Path::new("/nonexistent/catalog.yaml")).unwrap_err().to_string();
        assert!(
            err.starts_with("cannot read the image catalogue /nonexistent/catalog.yaml (--image-catalog): "),
            "{err}"
        );
    }
}
