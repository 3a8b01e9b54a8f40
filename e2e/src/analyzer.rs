//! np-guard's netpol-analyzer over the live objects, for both phases.

use crate::cluster::{kubectl, run};

/// The connections netpol-analyzer finds between the live pods, given the
/// live NetworkPolicies of `namespaces` (kept under the log folder `name`).
pub async fn analyze(logs: &std::path::Path, name: &str, namespaces: &[&str]) -> Result<String, String> {
    let dir = logs.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let listed = kubectl(&[&["get", "namespace"][..], namespaces, &["-o", "yaml"]].concat()).await?;
    std::fs::write(dir.join("namespaces.yaml"), listed).map_err(|e| e.to_string())?;
    for n in namespaces {
        let objects = kubectl(&["-n", n, "get", "pods,networkpolicies", "-o", "yaml"]).await?;
        std::fs::write(dir.join(format!("{n}.yaml")), objects).map_err(|e| e.to_string())?;
    }
    let listing = run("netpolicy", &["list", "--dirpath", &dir.to_string_lossy(), "-q"], None).await?;
    std::fs::write(dir.join("connections.txt"), &listing).map_err(|e| e.to_string())?;
    Ok(listing)
}
