//! [`CheckedSandbox`]: a sandbox under Pennylane's contract, for tests.

use crate::config::SandboxConfig;
use crate::contract::{self, Contract};
use crate::sandbox::Sandbox;

/// A sandbox that checks every request it receives and every response it serves
/// against Pennylane's published spec files ([`Contract::from_env`]), and **panics when
/// dropped** if any departed from them: a test that uses it fails when the code under
/// test sent what Pennylane would refuse (or the sandbox served what Pennylane would
/// not). Dropped during a panic, it stays quiet.
pub struct CheckedSandbox(Sandbox);

impl CheckedSandbox {
    /// Starts a sandbox with `config` under the contract read from `PENNY_OPENAPI_DIR`.
    ///
    /// # Panics
    /// When the spec files cannot be read or the server cannot start: a test support
    /// type, it never lets a test skip the contract silently.
    pub async fn start(config: SandboxConfig) -> CheckedSandbox {
        let contract = Contract::from_env().unwrap_or_else(|e| {
            panic!("{e}\n(a CheckedSandbox checks against the spec files; never skipped)")
        });
        let sandbox = Sandbox::builder(config)
            .contract(contract)
            .start()
            .await
            .unwrap_or_else(|e| panic!("the sandbox could not start: {e}"));
        CheckedSandbox(sandbox)
    }

    /// [`start`](Self::start)s a sandbox of `ledger_lines` ledger lines, without rate
    /// limit, its clock at the real time (an API source positions its change logs by the
    /// server's `Date` header): what an end-to-end test of a sync needs.
    pub async fn with_lines(ledger_lines: usize) -> CheckedSandbox {
        let start = chrono::Utc::now();
        CheckedSandbox::start(SandboxConfig {
            start,
            ..SandboxConfig::unthrottled(ledger_lines)
        })
        .await
    }
}

impl std::ops::Deref for CheckedSandbox {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.0
    }
}

impl std::ops::DerefMut for CheckedSandbox {
    fn deref_mut(&mut self) -> &mut Sandbox {
        &mut self.0
    }
}

impl Drop for CheckedSandbox {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let violations = self.0.violations();
        assert!(
            violations.is_empty(),
            "the test sent or was served what Pennylane's spec does not allow:\n{}",
            contract::summary(&violations)
        );
    }
}
