//! The command line as a user meets it: versions, CRDs, and one-line errors
//! with a non-zero exit code for bad flags and an unreachable API server.

use std::process::{Command, Output};

fn servicedb(args: &[&str], kubeconfig: Option<&std::path::Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_servicedb"));
    cmd.args(args).env_remove("KUBERNETES_SERVICE_HOST");
    if let Some(path) = kubeconfig {
        cmd.env("KUBECONFIG", path);
    }
    cmd.output().expect("the binary runs")
}

#[test]
fn crd_prints_what_crds_holds() {
    let out = servicedb(&["crd"], None);
    assert!(out.status.success());
    let file = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/crds/servicedb.dev.yaml")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), file);
}

#[test]
fn version_prints_the_crate_version() {
    let out = servicedb(&["version"], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("servicedb {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_bad_flag_exits_2_naming_it() {
    let out = servicedb(&["run", "--lease-duration-seconds", "1"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.lines().next().unwrap_or_default().contains("--lease-duration-seconds"), "{err}");
}

#[test]
fn an_unreachable_api_server_is_one_line_and_exit_1() {
    // A port nothing listens on: bind one, note it, release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}}}]\nusers: [{{name: u, user: {{token: t}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\ncurrent-context: x\n"
        ),
    )
    .unwrap();
    let out = servicedb(&["run", "--http-address", "127.0.0.1:0", "--log-level", "off"], Some(&kubeconfig));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("servicedb: cannot reach the Kubernetes API server at https://127.0.0.1:{port}/")),
        "{err}"
    );
}

#[test]
fn a_bad_image_catalog_stops_the_operator_before_it_connects() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("image-catalog.yaml");
    std::fs::write(&catalog, "engines:\n  postgres: {\"14\": localhost/servicedb/postgres:14}\n").unwrap();
    // No kubeconfig: the catalogue is checked first.
    let missing = dir.path().join("no-kubeconfig");
    let out = servicedb(
        &["run", "--http-address", "127.0.0.1:0", "--log-level", "off", "--image-catalog", catalog.to_str().unwrap()],
        Some(&missing),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        err.trim_end(),
        format!(
            "servicedb: the image catalogue {} (--image-catalog) lists postgres version \"14\", which servicedb does not support; supported postgres versions: 15, 16, 17, 18",
            catalog.display()
        )
    );
}
