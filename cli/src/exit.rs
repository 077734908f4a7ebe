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
        }
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
