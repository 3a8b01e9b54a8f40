//! Leader election over a `coordination.k8s.io` Lease (kube-lease-manager):
//! only the holder reconciles; the lease is released on shutdown so that a
//! standby takes over at once instead of after the lease duration.

use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Leadership {
    channel: watch::Receiver<bool>,
    task: JoinHandle<Result<kube_lease_manager::LeaseManager, LeaseManagerError>>,
}

#[derive(Clone, Debug)]
pub struct LeaseSettings {
    pub name: String,
    pub namespace: String,
    pub identity: String,
    pub duration_seconds: u64,
}

/// The field manager of one replica's writes to the Lease. It must differ
/// per replica: the lease manager takes a released Lease by server-side
/// apply, and under one shared manager two standbys' applies both succeed
/// (no conflict), so both would lead.
fn field_manager(identity: &str) -> String {
    format!("servicedb-leader-{identity}")
}

impl Leadership {
    pub async fn start(client: Client, s: &LeaseSettings) -> Result<Self, String> {
        // Renew a third of the duration before expiry.
        let grace = (s.duration_seconds / 3).max(1);
        let manager = LeaseManagerBuilder::new(client, &s.name)
            .with_namespace(&s.namespace)
            .with_identity(&s.identity)
            .with_duration(s.duration_seconds)
            .with_grace(grace)
            .with_field_manager(field_manager(&s.identity))
            .build()
            .await
            .map_err(|e| format!("cannot use Lease {}/{}: {e}", s.namespace, s.name))?;
        let (channel, task) = manager.watch().await;
        Ok(Self { channel, task })
    }

    pub fn is_leader(&self) -> bool {
        *self.channel.borrow()
    }

    /// Resolves when this process holds the lease (`true`) or the lease
    /// manager stopped (`false`).
    pub async fn acquired(&mut self) -> bool {
        self.channel.wait_for(|leader| *leader).await.is_ok()
    }

    /// Resolves when the lease is lost.
    pub fn lost(&self) -> impl std::future::Future<Output = ()> + Send + Sync + 'static {
        let mut channel = self.channel.clone();
        async move {
            let _ = channel.wait_for(|leader| !*leader).await;
        }
    }

    /// Gives the lease up for the next replica.
    pub async fn release(self) {
        drop(self.channel);
        match self.task.await {
            Ok(Ok(_)) => tracing::info!("released the leader lease"),
            Ok(Err(e)) => tracing::warn!(error = %e, "could not release the leader lease"),
            Err(e) => tracing::warn!(error = %e, "lease manager task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_replica_writes_the_lease_under_its_own_field_manager() {
        assert_ne!(
            super::field_manager("servicedb-7f85949b66-4bvsx"),
            super::field_manager("servicedb-7f85949b66-fssz2")
        );
    }
}
