//! Exit codes, and the error every command returns: what failed and what to do.

use penny_transform::ErrorClass;

use crate::config::ConfigError;

/// The process exit codes of `penny`.
///
/// | code | meaning |
/// |---|---|
/// | 0 | success (also a scheduler stopped by Ctrl-C or SIGTERM) |
/// | 1 | an unexpected internal error |
/// | 2 | the command line is wrong (clap's usage errors) |
/// | 3 | configuration missing or wrong |
/// | 4 | authentication refused or a permission missing |
/// | 5 | source or destination unavailable (network, server down, rate limit exhausted) |
/// | 6 | data error (a record that does not fit, a missing table) |
/// | 7 | busy: another sync holds the target |
/// | 8 | `penny doctor`: at least one check failed |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Success.
    Success = 0,
    /// An unexpected internal error.
    Internal = 1,
    /// Wrong command line.
    Usage = 2,
    /// Configuration missing or wrong.
    Config = 3,
    /// Authentication or permission refused.
    Auth = 4,
    /// The other side could not be reached.
    Unavailable = 5,
    /// The data does not fit.
    Data = 6,
    /// Another sync holds the target.
    Busy = 7,
    /// A `doctor` check failed.
    CheckFailed = 8,
}

impl ExitCode {
    /// The code for an error class.
    pub fn from_class(class: ErrorClass) -> ExitCode {
        match class {
            ErrorClass::Config => ExitCode::Config,
            ErrorClass::Auth => ExitCode::Auth,
            ErrorClass::Unavailable => ExitCode::Unavailable,
            ErrorClass::Data => ExitCode::Data,
            ErrorClass::Busy => ExitCode::Busy,
        }
    }

    /// What to do about a failure of this kind.
    pub fn hint(self) -> &'static str {
        match self {
            ExitCode::Success => "",
            ExitCode::Internal => {
                "this is a bug in Penny: please report it with the log (run with --log-format json)"
            }
            ExitCode::Usage => "run `penny --help`",
            ExitCode::Config => {
                "fix the setting named above in penny.toml or the environment (see penny.example.toml), then run `penny doctor`"
            }
            ExitCode::Auth => {
                "check the token or password and its permissions (scopes, grants); `penny doctor` lists what is missing"
            }
            ExitCode::Unavailable => {
                "the other side could not be reached or kept failing; check the network and the service, then run again (nothing committed was lost)"
            }
            ExitCode::Data => {
                "look at the record or table named above; the last committed state is intact, so a fixed run resumes from there"
            }
            ExitCode::Busy => {
                "another penny sync is writing to the same target; wait for it to finish (or stop it) and run again"
            }
            ExitCode::CheckFailed => "fix the failed checks above, then run `penny doctor` again",
        }
    }
}

/// A command's failure: the message, and the exit code that classifies it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    /// The exit code.
    pub code: ExitCode,
    /// What failed.
    pub message: String,
}

impl CliError {
    /// A failure of `class` described by `error` (its whole chain of causes is kept).
    pub fn new(code: ExitCode, error: &(dyn std::error::Error + 'static)) -> Self {
        CliError {
            code,
            message: chain(error),
        }
    }

    /// A failure described by a message.
    pub fn msg(code: ExitCode, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
        }
    }

    /// A failure of an error class.
    pub fn classed(class: ErrorClass, error: &(dyn std::error::Error + 'static)) -> Self {
        CliError::new(ExitCode::from_class(class), error)
    }

    /// The text printed on standard error: the message, then what to do.
    pub fn report(&self) -> String {
        format!("error: {}\nhint: {}", self.message, self.code.hint())
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::new(ExitCode::Config, &e)
    }
}

impl From<penny_sync::SyncError> for CliError {
    fn from(e: penny_sync::SyncError) -> Self {
        CliError::classed(e.class(), &e)
    }
}

impl From<penny_transform::SinkError> for CliError {
    fn from(e: penny_transform::SinkError) -> Self {
        CliError::classed(e.class(), &e)
    }
}

pub use penny_sync::error::chain;

#[cfg(test)]
mod tests {
    use super::*;
    use penny_transform::SinkError;

    #[test]
    fn every_class_has_its_own_code() {
        let classes = [
            ErrorClass::Config,
            ErrorClass::Auth,
            ErrorClass::Unavailable,
            ErrorClass::Data,
            ErrorClass::Busy,
        ];
        let mut codes: Vec<u8> = classes
            .iter()
            .map(|c| ExitCode::from_class(*c) as u8)
            .collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), classes.len());
        assert!(!codes.contains(&0) && !codes.contains(&1) && !codes.contains(&2));
    }

    #[test]
    fn the_report_keeps_causes_and_adds_a_hint() {
        let e = SinkError::Unavailable {
            source: "connection refused".into(),
        };
        let err = CliError::classed(e.class(), &e);
        assert_eq!(err.code, ExitCode::Unavailable);
        let r = err.report();
        assert!(
            r.contains("connection refused") && r.contains("hint:"),
            "{r}"
        );
    }
}
