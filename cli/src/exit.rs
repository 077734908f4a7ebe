//! Exit codes, the top-level error type and the run outcome of the `bmcwd`
//! binary.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | internal error, or output/file I/O failed |
//! | 2 | bad command line or input file (nothing was sent) |
//! | 3 | the BMC answered with an error completion code, or a malformed response |
//! | 4 | setup: no IPMI device, no driver, permission denied, simulator socket absent |
//! | 5 | communication: timeout, connection closed, I/O error mid-command |
//! | 6 | `scenario explore` found a counterexample (printed) |
//! | 7 | `bt diff` found a divergence between the C file and the profile (printed) |
//!
//! A `--bt-source` file that cannot be read, compiled or loaded (or lacks
//! `bt_smi_handlers` or one of its functions) exits 1 with the reason.

use bmcwd::daemon::DaemonError;
use bmcwd::transport::TransportError;
use bmcwd::ClientError;

/// Success.
pub const OK: u8 = 0;
/// Internal error or local I/O failure.
pub const INTERNAL: u8 = 1;
/// Bad command line or input file; nothing was sent.
pub const USAGE: u8 = 2;
/// The BMC refused the command (completion code) or answered garbage.
pub const BMC: u8 = 3;
/// Setup problem: device, driver, permissions, socket.
pub const SETUP: u8 = 4;
/// Communication failure: timeout, closed connection, I/O.
pub const COMM: u8 = 5;
/// A property search found a counterexample.
pub const COUNTEREXAMPLE: u8 = 6;
/// `bt diff` found a divergence.
pub const DIVERGENCE: u8 = 7;

/// Everything that can end a `bmcwd` run unsuccessfully.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments (caught before anything was sent).
    #[error("{0}")]
    Usage(String),
    /// A command failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The daemon ended with an error.
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    /// A local file could not be read, parsed or written.
    #[error("{0}")]
    Input(String),
    /// Anything else.
    #[error("{0}")]
    Internal(String),
    /// An error the daemon already wrote to its log (with its priority):
    /// `main` does not print it again, except as JSON with `--json`.
    #[error(transparent)]
    Logged(Box<CliError>),
}

/// How a successful run ended. A search that finds a counterexample ran
/// fine: the finding is its result (printed), not an error, but the exit code
/// still reports it so scripts can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, nothing to report beyond the output.
    Success,
    /// `scenario explore` found (and printed) a counterexample.
    CounterexampleFound,
    /// `bt diff` found (and printed) a divergence.
    DivergenceFound,
}

impl Outcome {
    /// The process exit code for this outcome (see the module table).
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Success => OK,
            Self::CounterexampleFound => COUNTEREXAMPLE,
            Self::DivergenceFound => DIVERGENCE,
        }
    }
}

impl From<TransportError> for CliError {
    fn from(e: TransportError) -> Self {
        Self::Client(ClientError::Transport(e))
    }
}

impl CliError {
    /// The process exit code for this error (see the module table).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::Input(_) => USAGE,
            Self::Client(e) => client_code(e),
            Self::Daemon(e) => client_code(e.client_error()),
            Self::Internal(_) => INTERNAL,
            Self::Logged(e) => e.exit_code(),
        }
    }

    /// The error's kind, the `kind` of [`CliError::to_json`]: `usage`,
    /// `input`, `internal`, `completion` (the BMC's completion code),
    /// `malformed`, `setup` or `communication`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Usage(_) => "usage",
            Self::Input(_) => "input",
            Self::Internal(_) => "internal",
            Self::Client(e) => client_kind(e),
            Self::Daemon(e) => client_kind(e.client_error()),
            Self::Logged(e) => e.kind(),
        }
    }

    /// The BMC's completion code, when the BMC refused the command.
    pub fn completion_code(&self) -> Option<u8> {
        match self {
            Self::Client(e) => e.completion_code().map(|c| c.0),
            Self::Daemon(e) => e.client_error().completion_code().map(|c| c.0),
            Self::Logged(e) => e.completion_code(),
            _ => None,
        }
    }

    /// `--json`'s error object (README, "JSON output"):
    /// `{"error": {"kind", "message", "exit_code", "completion_code", "hint"}}`;
    /// `hint` is the remedy the message ends with (after its last ` — `), or
    /// null.
    pub fn to_json(&self) -> serde_json::Value {
        error_json(
            self.kind(),
            &self.to_string(),
            self.exit_code(),
            self.completion_code(),
        )
    }
}

/// The `--json` error object for any error, also a command-line one that
/// clap reports (`kind` `usage`, exit code 2).
pub fn error_json(
    kind: &str,
    message: &str,
    exit_code: u8,
    completion_code: Option<u8>,
) -> serde_json::Value {
    let hint = message
        .rsplit_once(" — ")
        .map(|(_, h)| h.trim().to_string())
        .filter(|h| !h.is_empty());
    serde_json::json!({"error": {
        "kind": kind,
        "message": message,
        "exit_code": exit_code,
        "completion_code": completion_code,
        "hint": hint,
    }})
}

fn client_kind(e: &ClientError) -> &'static str {
    match e {
        ClientError::Completion { .. } => "completion",
        ClientError::Malformed { .. } => "malformed",
        ClientError::Transport(_) => match client_code(e) {
            SETUP => "setup",
            USAGE => "usage",
            _ => "communication",
        },
    }
}

fn client_code(e: &ClientError) -> u8 {
    match e {
        ClientError::Completion { .. } | ClientError::Malformed { .. } => BMC,
        ClientError::Transport(t) => match t {
            TransportError::DeviceMissing { .. }
            | TransportError::NoDriver { .. }
            | TransportError::PermissionDenied { .. }
            | TransportError::NotIpmi { .. }
            | TransportError::NotDevice { .. }
            | TransportError::Connect { .. }
            | TransportError::NotSocket { .. } => SETUP,
            TransportError::Invalid(_) => USAGE,
            TransportError::Timeout { .. }
            | TransportError::Closed { .. }
            | TransportError::Io { .. } => COMM,
        },
    }
}
