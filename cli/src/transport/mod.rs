//! How a request reaches a BMC: one [`Transport`] trait with three
//! implementations — the kernel's `/dev/ipmiN` through ipmi-rs
//! ([`DeviceTransport`]), the embedded simulator in this process
//! ([`SimTransport`]), and a simulator served over a Unix socket with the
//! OpenIPMI "VM" protocol ([`VmSocketTransport`]); [`Target`] and [`resolve`]
//! pick one from the command line.
//!
//! The trait is synchronous: every IPMI system interface carries one request at a
//! time, and a blocking call with a deadline is the simplest faithful model. The
//! daemon calls it from a single-threaded tokio runtime.

mod device;
mod select;
mod sim;
mod vm;

pub use device::DeviceTransport;
pub use select::{find_devices, resolve, Target};
pub use sim::SimTransport;
pub use vm::VmSocketTransport;

use std::path::PathBuf;
use std::time::Duration;

use ipmi_bt_sm::CompletionCode;

/// Reset Watchdog Timer (IPMI v2.0 §27.5).
pub(crate) const CMD_RESET_WATCHDOG: u8 = ipmi_vocab::app::RESET_WATCHDOG;
/// Set Watchdog Timer (IPMI v2.0 §27.6).
pub(crate) const CMD_SET_WATCHDOG: u8 = ipmi_vocab::app::SET_WATCHDOG;
/// Get Watchdog Timer (IPMI v2.0 §27.7).
pub(crate) const CMD_GET_WATCHDOG: u8 = ipmi_vocab::app::GET_WATCHDOG;

/// The spec name of a command, for messages ("Reset Watchdog Timer failed: …"),
/// from [`ipmi_vocab::command_name`]; a command the vocabulary does not name
/// is shown by number ("NetFn 0x2C command 0x01").
pub fn command_name(netfn: u8, cmd: u8) -> String {
    match ipmi_vocab::command_name(netfn, cmd) {
        Some(name) => name.to_string(),
        None => format!("NetFn 0x{:02X} command 0x{cmd:02X}", netfn & !1),
    }
}

/// One IPMI request to the BMC (LUN 0 of the BMC on the system interface).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Request NetFn (even).
    pub netfn: u8,
    /// Command number.
    pub cmd: u8,
    /// Request data bytes.
    pub data: Vec<u8>,
}

impl Request {
    /// The command's spec name.
    pub fn name(&self) -> String {
        command_name(self.netfn, self.cmd)
    }
}

/// One IPMI response: the completion code and the data after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Response NetFn (odd).
    pub netfn: u8,
    /// Command number (echoes the request's).
    pub cmd: u8,
    /// Completion code.
    pub cc: CompletionCode,
    /// Data after the completion code.
    pub data: Vec<u8>,
}

/// Why a request got no response. Every message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The IPMI device node does not exist.
    #[error(
        "no IPMI device at {}: load the kernel modules with `modprobe ipmi_devintf ipmi_si` \
         (then check `ls /dev/ipmi*`), or run against the simulator with --sim or \
         --socket PATH (`bmcwd sim serve`)",
        path.display()
    )]
    DeviceMissing {
        /// The path we tried.
        path: PathBuf,
    },
    /// The device exists but the kernel has no BMC behind it.
    #[error(
        "{} exists but no BMC driver answers ({source}): load `modprobe ipmi_si` (and check \
         `dmesg | grep -i ipmi` for a detected BMC), or use --sim",
        path.display()
    )]
    NoDriver {
        /// The path we tried.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The path is not an IPMI device node (ioctls fail with ENOTTY).
    #[error(
        "{} is not an IPMI device (it rejects the IPMI ioctls): point --device at a /dev/ipmiN \
         node created by the ipmi_devintf module (for a `bmcwd sim serve` socket, use --socket)",
        path.display()
    )]
    NotIpmi {
        /// The path we used.
        path: PathBuf,
    },
    /// The path is no character device at all (a FIFO, a regular file, a
    /// directory…), found with stat(2) before any open(2): opening a FIFO
    /// would block until a writer came.
    #[error(
        "{} is not an IPMI device: it is {kind}, not a character device; point --device at a \
         /dev/ipmiN node created by the ipmi_devintf module (`ls -l /dev/ipmi*`)",
        path.display()
    )]
    NotDevice {
        /// The path we tried.
        path: PathBuf,
        /// What it is instead ("a FIFO (named pipe)", "a regular file", …).
        kind: &'static str,
    },
    /// Not allowed to open the device.
    #[error(
        "permission denied opening {}: run as root (e.g. with sudo) or as a member of the \
         device's group (`ls -l {}`)",
        path.display(),
        path.display()
    )]
    PermissionDenied {
        /// The path we tried.
        path: PathBuf,
    },
    /// The command got no response within its deadline.
    #[error(
        "{command} timed out after {:.1} s with no response from {peer}: the BMC may be busy, \
         resetting or hung — retry, raise --cmd-timeout, or check the BMC",
        after.as_secs_f64()
    )]
    Timeout {
        /// Spec name of the command.
        command: String,
        /// How long we waited.
        after: Duration,
        /// What we were talking to.
        peer: String,
    },
    /// Could not connect to a simulator socket.
    #[error(
        "cannot connect to the simulator socket {}: {source} — start it with \
         `bmcwd sim serve --socket {}`",
        path.display(),
        path.display()
    )]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The `--socket` path exists but is not a Unix socket (a regular file,
    /// a directory…), so no simulator can be listening there.
    #[error(
        "{} is {kind}, not a Unix socket: give the path `bmcwd sim serve --socket PATH` \
         is listening on",
        path.display()
    )]
    NotSocket {
        /// The path we tried.
        path: PathBuf,
        /// What it is instead ("a regular file", "a directory", …).
        kind: &'static str,
    },
    /// The peer closed the connection.
    #[error("{peer} closed the connection while {command} was pending: restart it and retry")]
    Closed {
        /// What we were talking to.
        peer: String,
        /// Spec name of the command.
        command: String,
    },
    /// An I/O error talking to the BMC.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The request could not be expressed (e.g. too long for the interface).
    #[error("{0}")]
    Invalid(String),
}

impl TransportError {
    /// True when retrying later may succeed (timeouts, closed connections, I/O
    /// hiccups), false for configuration problems (missing device, permissions).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Timeout { .. } | Self::Closed { .. } | Self::Io { .. }
        )
    }
}

/// Something that carries one request to a BMC and brings its response back.
#[cfg_attr(test, mockall::automock)]
pub trait Transport {
    /// Sends `req` and waits at most `timeout` for its response. Responses that
    /// do not belong to `req` (stale, unsolicited) are skipped, never returned.
    fn send(&mut self, req: &Request, timeout: Duration) -> Result<Response, TransportError>;

    /// A short description of the peer for logs ("/dev/ipmi0", "simulator").
    fn describe(&self) -> String;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn send(&mut self, req: &Request, timeout: Duration) -> Result<Response, TransportError> {
        (**self).send(req, timeout)
    }

    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// The transport behind `--sim`: a fresh simulated BMC in this process
/// (default BMC configuration, IPMI-spec watchdog), driven through
/// [`sim::SimTransport`] with real time since this call as its clock.
///
/// Nothing persists beyond the returned value; for a simulator shared between
/// processes, serve one (`bmcwd sim serve --socket PATH`) and use
/// [`vm::VmSocketTransport`].
pub fn embedded_simulator() -> Box<dyn Transport> {
    use bmc_sim::vmproto::VmSimBmc;
    use bmc_sim::BmcConfig;
    use bmc_sim::SimBmc;
    Box::new(sim::SimTransport::new(VmSimBmc::new(SimBmc::new(
        BmcConfig::default(),
    ))))
}
