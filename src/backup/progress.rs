//! Progress of `servicedb backup` and `servicedb restore` on stderr (stdout
//! carries the manifest): the phase, the bytes it moved and the rate. On a
//! terminal one line redrawn in place; otherwise (a Job's log) an info line
//! every 5 s. One reporter per process, so the pipeline reports without
//! threading a handle through every call.

use crate::units::human_bytes;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const LOG_EVERY: Duration = Duration::from_secs(5);
const REDRAW_EVERY: Duration = Duration::from_millis(250);

struct Reporter {
    tty: bool,
    bytes: AtomicU64,
    state: Mutex<State>,
}

struct State {
    /// "safety backup" while a backup runs inside a restore.
    prefix: Option<&'static str>,
    phase: Option<&'static str>,
    since: Instant,
    logged: Instant,
}

static REPORTER: OnceLock<Reporter> = OnceLock::new();

fn reporter() -> &'static Reporter {
    REPORTER.get_or_init(|| {
        let tty = std::io::stderr().is_terminal();
        let every = if tty { REDRAW_EVERY } else { Duration::from_secs(1) };
        // A thread of its own: ticks go on while the runtime is busy.
        let _ = std::thread::Builder::new().name("progress".into()).spawn(move || {
            loop {
                std::thread::sleep(every);
                reporter().tick();
            }
        });
        let now = Instant::now();
        Reporter {
            tty,
            bytes: AtomicU64::new(0),
            state: Mutex::new(State { prefix: None, phase: None, since: now, logged: now }),
        }
    })
}

/// MiB per second; 0 before any time has passed.
pub fn mib_per_s(bytes: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds <= 0.0 { 0.0 } else { bytes as f64 / (1024.0 * 1024.0) / seconds }
}

/// `safety backup: dumping+uploading 120.5 MiB at 38.2 MiB/s (3s)`.
pub fn line(prefix: Option<&str>, phase: &str, bytes: u64, elapsed: Duration) -> String {
    let prefix = prefix.map(|p| format!("{p}: ")).unwrap_or_default();
    let seconds = elapsed.as_secs();
    if bytes == 0 {
        return format!("{prefix}{phase} ({seconds}s)");
    }
    format!("{prefix}{phase} {} at {:.1} MiB/s ({seconds}s)", human_bytes(bytes), mib_per_s(bytes, elapsed))
}

impl Reporter {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn tick(&self) {
        let mut state = self.state();
        let Some(phase) = state.phase else { return };
        let bytes = self.bytes.load(Ordering::Relaxed);
        let elapsed = state.since.elapsed();
        if self.tty {
            let text = line(state.prefix, phase, bytes, elapsed);
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{text}");
            let _ = err.flush();
        } else if state.logged.elapsed() >= LOG_EVERY {
            state.logged = Instant::now();
            let phase = match state.prefix {
                Some(prefix) => format!("{prefix}: {phase}"),
                None => phase.to_string(),
            };
            let mib_per_s = (mib_per_s(bytes, elapsed) * 10.0).round() / 10.0;
            tracing::info!(%phase, bytes, mib_per_s, "in progress");
        }
    }

    /// On a terminal, leaves the finished phase's final figures on a line
    /// of its own, so what follows starts on a fresh line.
    fn end_line(&self, state: &mut State) {
        if let (true, Some(phase)) = (self.tty, state.phase) {
            let bytes = self.bytes.load(Ordering::Relaxed);
            let text = line(state.prefix, phase, bytes, state.since.elapsed());
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "\r\x1b[2K{text}");
        }
    }
}

/// A new phase starts: its byte count starts at zero.
pub fn phase(name: &'static str) {
    let reporter = reporter();
    let mut state = reporter.state();
    reporter.end_line(&mut state);
    reporter.bytes.store(0, Ordering::Relaxed);
    state.phase = Some(name);
    state.since = Instant::now();
    state.logged = Instant::now();
    if !reporter.tty {
        tracing::info!(phase = %match state.prefix {
            Some(prefix) => format!("{prefix}: {name}"),
            None => name.to_string(),
        }, "phase");
    }
}

/// Bytes moved in the current phase.
pub fn add(bytes: u64) {
    if let Some(reporter) = REPORTER.get() {
        reporter.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// The work is over (done or failed): the live line is finished and
/// nothing more is reported until the next phase.
pub fn finish() {
    if let Some(reporter) = REPORTER.get() {
        let mut state = reporter.state();
        reporter.end_line(&mut state);
        state.phase = None;
    }
}

/// Calls [`finish`] when dropped: on every way out of a piece of work.
pub struct FinishOnDrop;

impl Drop for FinishOnDrop {
    fn drop(&mut self) {
        finish();
    }
}

/// Phases reported until the guard drops carry `prefix`.
pub struct Scope(());

pub fn scope(prefix: &'static str) -> Scope {
    reporter().state().prefix = Some(prefix);
    Scope(())
}

impl Drop for Scope {
    fn drop(&mut self) {
        let reporter = reporter();
        let mut state = reporter.state();
        reporter.end_line(&mut state);
        state.prefix = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_in_mib_per_second() {
        assert_eq!(mib_per_s(0, Duration::ZERO), 0.0);
        assert_eq!(mib_per_s(10 << 20, Duration::ZERO), 0.0);
        assert!((mib_per_s(30 << 20, Duration::from_secs(2)) - 15.0).abs() < 1e-9);
        assert!((mib_per_s(512 << 10, Duration::from_millis(500)) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn line_names_phase_bytes_rate_and_time() {
        assert_eq!(line(None, "connecting", 0, Duration::from_millis(1500)), "connecting (1s)");
        assert_eq!(
            line(None, "dumping+uploading", 120 << 20, Duration::from_secs(4)),
            "dumping+uploading 120.0 MiB at 30.0 MiB/s (4s)"
        );
        assert_eq!(
            line(Some("safety backup"), "verifying", 3 << 10, Duration::from_secs(1)),
            "safety backup: verifying 3.0 KiB at 0.0 MiB/s (1s)"
        );
    }
}
