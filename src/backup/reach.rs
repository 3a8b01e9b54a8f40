//! Waiting, for a bounded time, until the database accepts TCP connections.
//! A backup or restore pod often starts before the cluster's network policy
//! agent has admitted its new address (kube-router, Calico and others take
//! about a second): the first connections are refused although allowed.

use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Tries `host:port` every `every` until a connection opens or `within`
/// has passed; the error names the address, the time and the last failure.
pub async fn wait_reachable(host: &str, port: u16, within: Duration, every: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        let error =
            match tokio::time::timeout(left.max(Duration::from_millis(1)), TcpStream::connect((host, port))).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => e.to_string(),
                Err(_) => "timed out".to_string(),
            };
        if Instant::now() + every > deadline {
            return Err(format!(
                "cannot reach the database at {host}:{port} within {}s ({attempt} attempts, last: {error}); check that the instance is running and that a NetworkPolicy lets this pod in",
                within.as_secs()
            ));
        }
        tracing::info!(%host, port, attempt, %error, "waiting for the database to accept connections");
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_a_server_that_starts_late() {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let server = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
            let _ = listener.accept().await;
        });
        wait_reachable("127.0.0.1", port, Duration::from_secs(5), Duration::from_millis(50)).await.unwrap();
        server.abort();
    }

    #[tokio::test]
    async fn gives_up_with_the_address_and_the_last_error() {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let started = std::time::Instant::now();
        let error = wait_reachable("127.0.0.1", port, Duration::from_millis(400), Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "bounded: {:?}", started.elapsed());
        assert!(error.contains(&format!("127.0.0.1:{port}")) && error.contains("refused"), "{error}");
        assert!(error.contains("NetworkPolicy"), "{error}");
    }
}
