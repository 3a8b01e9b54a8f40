//! Which images an instance runs: the engines' official images, or, when
//! the operator was given an image catalogue, the catalogue's and no other.
//! The one place that decides; the builders take what it resolved.

use super::ImageCatalog;
use crate::api::{self, ServiceDatabaseSpec};
use std::path::PathBuf;

/// Where images come from, for the whole operator.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Images {
    /// Each engine's official images (no `--image-catalog`).
    #[default]
    Official,
    /// Only the catalogue's images.
    Catalog(ImageCatalog),
}

/// The images of one instance.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceImages {
    /// The database container's.
    pub database: String,
    /// The exporter sidecar's: present exactly when monitoring is enabled.
    pub exporter: Option<String>,
}

/// Why a spec has no image; each says what to do.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum NoImage {
    #[error("{} version {version:?} is not supported; use one of: {}", engine.as_str(), usable.join(", "))]
    UnsupportedVersion {
        engine: api::Engine,
        version: String,
        /// The versions that would work: the supported ones, or those the catalogue lists.
        usable: Vec<&'static str>,
    },
    #[error(
        "{} {version} has no image in the image catalogue {} (--image-catalog); {}",
        engine.as_str(),
        catalog.display(),
        match listed.as_slice() {
            [] => format!("add one there; it lists no {} version", engine.as_str()),
            listed => format!("add one there or use a version it lists: {}", listed.join(", ")),
        }
    )]
    NotInCatalog { engine: api::Engine, version: String, catalog: PathBuf, listed: Vec<&'static str> },
    #[error(
        "monitoring is enabled but the image catalogue {} (--image-catalog) has no exporter image for {engine}; add exporters.{engine} there or set spec.monitoring.enabled to false",
        catalog.display(),
        engine = engine.as_str()
    )]
    NoExporter { engine: api::Engine, catalog: PathBuf },
}

impl Images {
    /// The images for a spec: its engine's version, and its exporter when
    /// monitoring is enabled.
    pub fn for_spec(&self, spec: &ServiceDatabaseSpec) -> Result<InstanceImages, NoImage> {
        let database = self.database(spec.engine, &spec.version)?;
        let exporter = if spec.monitoring_enabled() { Some(self.exporter(spec.engine)?) } else { None };
        Ok(InstanceImages { database, exporter })
    }

    fn database(&self, engine: api::Engine, version: &str) -> Result<String, NoImage> {
        let official = super::for_kind(engine);
        let unsupported =
            |usable: Vec<&'static str>| NoImage::UnsupportedVersion { engine, version: version.to_string(), usable };
        match self {
            Images::Official => {
                official.image(version).ok_or_else(|| unsupported(official.supported_versions().to_vec()))
            }
            Images::Catalog(catalog) => {
                if let Some(image) = catalog.database_image(engine, version) {
                    return Ok(image.to_string());
                }
                let listed = catalog.versions(engine);
                if official.supported_versions().contains(&version) || listed.is_empty() {
                    Err(NoImage::NotInCatalog {
                        engine,
                        version: version.to_string(),
                        catalog: catalog.path().to_path_buf(),
                        listed,
                    })
                } else {
                    Err(unsupported(listed))
                }
            }
        }
    }

    fn exporter(&self, engine: api::Engine) -> Result<String, NoImage> {
        match self {
            Images::Official => Ok(super::for_kind(engine).exporter_image().to_string()),
            Images::Catalog(catalog) => catalog
                .exporter_image(engine)
                .map(str::to_string)
                .ok_or_else(|| NoImage::NoExporter { engine, catalog: catalog.path().to_path_buf() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const PATH: &str = "/etc/servicedb/image-catalog.yaml";

    fn spec(engine: &str, version: &str, monitoring: bool) -> ServiceDatabaseSpec {
        yaml_serde::from_str(&format!(
            "{{engine: {engine}, version: '{version}', service: {{name: s}}, storage: {{size: 1Gi}}, monitoring: {{enabled: {monitoring}}}}}"
        ))
        .unwrap()
    }

    fn catalog() -> Images {
        Images::Catalog(
            ImageCatalog::parse(
                Path::new(PATH),
                "engines: {postgres: {'15': localhost/servicedb/postgres:15}, redis: {'7.2': localhost/r:7}}\nexporters: {postgres: localhost/pe:1}",
            )
            .unwrap(),
        )
    }

    #[test]
    fn without_a_catalogue_the_official_images_are_used() {
        let images = Images::Official.for_spec(&spec("postgres", "16", true)).unwrap();
        assert_eq!(images.database, "docker.io/library/postgres:16");
        assert_eq!(images.exporter.as_deref(), Some("quay.io/prometheuscommunity/postgres-exporter:v0.17.1"));
        let images = Images::Official.for_spec(&spec("mariadb", "11.4", false)).unwrap();
        assert_eq!(images, InstanceImages { database: "docker.io/library/mariadb:11.4".into(), exporter: None });
    }

    #[test]
    fn an_unsupported_version_lists_the_supported_ones() {
        let err = Images::Official.for_spec(&spec("postgres", "9", true)).unwrap_err();
        assert!(matches!(err, NoImage::UnsupportedVersion { .. }), "{err:?}");
        assert_eq!(err.to_string(), "postgres version \"9\" is not supported; use one of: 15, 16, 17, 18");
    }

    #[test]
    fn with_a_catalogue_only_its_images_are_used() {
        let images = catalog().for_spec(&spec("postgres", "15", true)).unwrap();
        assert_eq!(images.database, "localhost/servicedb/postgres:15");
        assert_eq!(images.exporter.as_deref(), Some("localhost/pe:1"));
        let images = catalog().for_spec(&spec("redis", "7.2", false)).unwrap();
        assert_eq!(images, InstanceImages { database: "localhost/r:7".into(), exporter: None });
    }

    #[test]
    fn a_version_missing_from_the_catalogue_says_what_to_do() {
        let err = catalog().for_spec(&spec("postgres", "16", true)).unwrap_err();
        assert!(matches!(err, NoImage::NotInCatalog { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "postgres 16 has no image in the image catalogue {PATH} (--image-catalog); add one there or use a version it lists: 15"
            )
        );
        let err = catalog().for_spec(&spec("mysql", "8.4", false)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "mysql 8.4 has no image in the image catalogue {PATH} (--image-catalog); add one there; it lists no mysql version"
            )
        );
        // A version no one supports: the catalogue's versions are the usable ones.
        let err = catalog().for_spec(&spec("postgres", "9", false)).unwrap_err();
        assert!(matches!(err, NoImage::UnsupportedVersion { .. }), "{err:?}");
        assert_eq!(err.to_string(), "postgres version \"9\" is not supported; use one of: 15");
    }

    #[test]
    fn a_missing_exporter_matters_only_with_monitoring() {
        let err = catalog().for_spec(&spec("redis", "7.2", true)).unwrap_err();
        assert!(matches!(err, NoImage::NoExporter { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "monitoring is enabled but the image catalogue {PATH} (--image-catalog) has no exporter image for redis; add exporters.redis there or set spec.monitoring.enabled to false"
            )
        );
        assert!(catalog().for_spec(&spec("redis", "7.2", false)).is_ok());
    }
}
