//! Following an operation: poll until a goal, bounded by a timeout, and
//! print a line each time what the user would see changes.

use super::failure::Failure;
use std::future::Future;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_secs(1);

/// Prints a progress line only when it differs from the previous one.
/// Shared by reference with the polling closure, hence the cell.
pub struct Progress {
    last: std::sync::Mutex<Option<String>>,
    started: Instant,
}

impl Default for Progress {
    fn default() -> Self {
        Progress { last: std::sync::Mutex::new(None), started: Instant::now() }
    }
}

impl Progress {
    /// The line to print for `line`, if it changed (with the seconds elapsed).
    pub fn note(&self, line: &str, elapsed: Duration) -> Option<String> {
        let mut last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.as_deref() == Some(line) {
            return None;
        }
        *last = Some(line.to_string());
        Some(format!("[{:>4}s] {line}", elapsed.as_secs()))
    }

    pub fn show(&self, line: &str) {
        if let Some(text) = self.note(line, self.started.elapsed()) {
            println!("{text}");
        }
    }
}

/// Calls `step` every second until it returns a value, fails, or `timeout`
/// passes (then "timed out waiting for `goal`").
pub async fn until<T, F, Fut>(timeout: Duration, goal: &str, mut step: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, Failure>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = step().await? {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            return Err(Failure::TimedOut(format!(
                "timed out after {}s waiting for {goal} (raise --timeout to wait longer)",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_printed_only_when_it_changes() {
        let p = Progress::default();
        let s = Duration::from_secs;
        assert_eq!(p.note("Pending", s(0)).as_deref(), Some("[   0s] Pending"));
        assert_eq!(p.note("Pending", s(1)), None);
        assert_eq!(p.note("Running", s(3)).as_deref(), Some("[   3s] Running"));
        assert_eq!(p.note("Pending", s(4)).as_deref(), Some("[   4s] Pending"), "back is a change too");
    }

    #[tokio::test]
    async fn until_times_out_with_the_timed_out_code() {
        let failure = until(Duration::from_millis(10), "nothing", || async { Ok(None::<()>) }).await.unwrap_err();
        assert_eq!(failure.code(), 5);
        assert!(failure.to_string().contains("waiting for nothing"));
        let mut calls = 0;
        let value = until(Duration::from_secs(5), "x", || {
            calls += 1;
            let done = calls >= 2;
            async move { Ok(done.then_some(7)) }
        })
        .await;
        assert_eq!(value, Ok(7));
    }
}
