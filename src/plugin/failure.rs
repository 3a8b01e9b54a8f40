//! How a command ends for scripts: one exit code per kind of failure.

use std::fmt;

/// Exit codes, also in `--help` and the README.
pub const EXIT_CODES: &str = "Exit codes:
  0  done (a followed operation reached its goal)
  1  the operation failed (backup Failed, restore failed, the client exited non-zero, ...)
  2  usage error (bad flag or argument)
  3  not found (the ServiceDatabase, its pod, its backup store: what the command needs)
  4  forbidden (your RBAC lacks a permission; the message names it)
  5  timed out (--timeout passed before the goal was reached)";

/// A command that did not reach its goal, with what to tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Failed(String),
    Usage(String),
    NotFound(String),
    Forbidden(String),
    TimedOut(String),
}

impl Failure {
    pub fn code(&self) -> u8 {
        match self {
            Failure::Failed(_) => 1,
            Failure::Usage(_) => 2,
            Failure::NotFound(_) => 3,
            Failure::Forbidden(_) => 4,
            Failure::TimedOut(_) => 5,
        }
    }

    /// A kube error while doing `action` on `what`: 404 and 403 keep their
    /// meaning for scripts; the API server's message is kept (no Secret
    /// content ever reaches an error here: we never send any).
    pub fn kube(action: &str, what: &str) -> impl FnOnce(kube::Error) -> Failure {
        let (action, what) = (action.to_string(), what.to_string());
        move |error| match error {
            kube::Error::Api(status) if status.code == 404 => Failure::NotFound(format!("{what} not found")),
            kube::Error::Api(status) if status.code == 403 => {
                Failure::Forbidden(format!("cannot {action} {what}: {}", status.message))
            }
            other => Failure::Failed(format!("cannot {action} {what}: {other}")),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (Failure::Failed(m)
        | Failure::Usage(m)
        | Failure::NotFound(m)
        | Failure::Forbidden(m)
        | Failure::TimedOut(m)) = self;
        f.write_str(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure(&format!("secrets \"x\" is forbidden {code}"), "Forbidden")
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn api_errors_keep_their_meaning_as_exit_codes() {
        assert_eq!(Failure::kube("get", "Secret shop/x")(api(404)).code(), 3);
        let forbidden = Failure::kube("get", "Secret shop/x")(api(403));
        assert_eq!(forbidden.code(), 4);
        assert!(forbidden.to_string().starts_with("cannot get Secret shop/x: secrets \"x\" is forbidden"));
        assert_eq!(Failure::kube("get", "x")(api(500)).code(), 1);
        assert_eq!(Failure::TimedOut("t".into()).code(), 5);
    }
}
