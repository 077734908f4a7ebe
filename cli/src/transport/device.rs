//! The real BMC behind Linux's IPMI message handler, through `/dev/ipmiN` and the
//! ipmi-rs crate's [`ipmi_rs::File`] connection.
//!
//! What ipmi-rs 0.6's `File` does not give us, and how this module wraps it
//! (without forking it):
//! * **Per-command timeouts.** `File` takes one receive timeout at construction
//!   and returns a bare `EAGAIN` when it expires. We construct it with a short
//!   poll slice ([`POLL_SLICE`]) and loop on `recv()` until our own deadline, so
//!   each command gets its own deadline and a timeout names the command and the
//!   time waited ([`TransportError::Timeout`]).
//! * **Message-id matching.** `File::recv` returns an error when a response's
//!   msgid is not the last one sent (e.g. the late answer to a request we
//!   already gave up on) or when the message is not a response at all (an
//!   event). Such messages are already consumed from the kernel queue, so we
//!   skip them and keep waiting instead of failing the new command.
//! * **EINTR.** A signal during `poll` surfaces as an error; we retry.
//! * **Open errors.** `File::new` only returns the `io::Error`; we map
//!   `ENOENT`/`EACCES`/`ENODEV`/`ENXIO` to errors that say which modules to load or
//!   which permissions are needed.
//!
//! The ioctl layout (`ipmi_req`, `ipmi_recv`, system-interface address type 0x0c,
//! channel 0xf) is ipmi-rs's, matching `include/uapi/linux/ipmi.h`.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ipmi_bt_sm::CompletionCode;
use ipmi_rs::connection::{IpmiConnection, LogicalUnit, Message, RequestTargetAddress};

use super::{Request, Response, Transport, TransportError};

/// How long one `poll` inside ipmi-rs may block before we re-check our deadline.
pub(super) const POLL_SLICE: Duration = Duration::from_millis(200);

/// A BMC reached through a `/dev/ipmiN` device node. Generic over the
/// ipmi-rs connection so the wrapper logic can be tested with a scripted one;
/// in the binary `C` is always [`ipmi_rs::File`].
pub struct DeviceTransport<C = ipmi_rs::File> {
    path: PathBuf,
    conn: C,
}

impl DeviceTransport<ipmi_rs::File> {
    /// Opens the device, mapping the common failures to actionable errors.
    /// The path is checked with stat(2) first (`check_node`): only a
    /// character device of the IPMI driver is ever opened, so a FIFO or a
    /// terminal given by mistake cannot block the open (ipmi-rs opens with
    /// plain `O_RDONLY`, no `O_NONBLOCK`, and `--cmd-timeout` only starts
    /// after the open).
    pub fn open(path: &Path) -> Result<Self, TransportError> {
        check_node(path)?;
        let conn = ipmi_rs::File::new(path, POLL_SLICE).map_err(|e| open_error(path, e))?;
        Ok(Self::with_connection(path, conn))
    }
}

/// Refuses, without opening it, a path that cannot be an IPMI device node:
/// anything but a character device ([`TransportError::NotDevice`]; a socket
/// is [`TransportError::NotIpmi`], it is likely a `sim serve` socket), and a
/// character device of another driver when `/proc/devices` names the
/// `ipmidev` major (`drivers/char/ipmi/ipmi_devintf.c` registers its nodes
/// under that name). With no `ipmidev` registered, `ipmi_devintf` is not
/// loaded and no node can answer ([`TransportError::NoDriver`]). Without a
/// readable `/proc/devices` the major is not checked.
pub(crate) fn check_node(path: &Path) -> Result<(), TransportError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = std::fs::metadata(path).map_err(|e| open_error(path, e))?;
    let t = m.file_type();
    if t.is_socket() {
        return Err(TransportError::NotIpmi {
            path: path.to_path_buf(),
        });
    }
    if !t.is_char_device() {
        let kind = if t.is_fifo() {
            "a FIFO (named pipe)"
        } else if t.is_dir() {
            "a directory"
        } else if t.is_block_device() {
            "a block device"
        } else {
            "a regular file"
        };
        return Err(TransportError::NotDevice {
            path: path.to_path_buf(),
            kind,
        });
    }
    let devices = std::fs::read_to_string("/proc/devices").ok();
    match devices.as_deref().map(ipmidev_major) {
        Some(Some(major)) if dev_major(m.rdev()) != major => Err(TransportError::NotIpmi {
            path: path.to_path_buf(),
        }),
        // ENXIO, what open(2) on a node of an unregistered major returns.
        Some(None) => Err(TransportError::NoDriver {
            path: path.to_path_buf(),
            source: io::Error::other(
                "no `ipmidev` in /proc/devices: the ipmi_devintf module is not loaded; \
                 `modprobe ipmi_devintf`",
            ),
        }),
        _ => Ok(()),
    }
}

/// The major number `/proc/devices` lists for `ipmidev` among the
/// character devices, if any.
fn ipmidev_major(devices: &str) -> Option<u64> {
    devices
        .lines()
        .skip_while(|l| !l.starts_with("Character devices"))
        .take_while(|l| !l.starts_with("Block devices"))
        .find_map(|l| {
            let mut it = l.split_whitespace();
            let major = it.next()?.parse().ok()?;
            (it.next()? == "ipmidev").then_some(major)
        })
}

/// The major number of a `st_rdev` (glibc's `gnu_dev_major` layout).
fn dev_major(rdev: u64) -> u64 {
    ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff)
}

impl<C> DeviceTransport<C> {
    /// Wraps an already open connection; `path` names it in messages.
    pub fn with_connection(path: &Path, conn: C) -> Self {
        Self {
            path: path.to_path_buf(),
            conn,
        }
    }
}

/// Maps an `open(2)` failure on an IPMI device node to an actionable error.
pub(crate) fn open_error(path: &Path, e: io::Error) -> TransportError {
    use std::os::unix::fs::FileTypeExt;
    // open(2) on a Unix socket fails with ENXIO, which would otherwise read
    // as "no driver": it is a socket (`bmcwd sim serve`?), not a device.
    if std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        return TransportError::NotIpmi {
            path: path.to_path_buf(),
        };
    }
    let path = path.to_path_buf();
    match e.kind() {
        io::ErrorKind::NotFound => TransportError::DeviceMissing { path },
        io::ErrorKind::PermissionDenied => TransportError::PermissionDenied { path },
        _ => match e.raw_os_error() {
            // ENXIO (6) / ENODEV (19): node exists, no interface registered.
            Some(6) | Some(19) => TransportError::NoDriver { path, source: e },
            _ => TransportError::Io {
                context: format!("cannot open {}", path.display()),
                source: e,
            },
        },
    }
}

impl<C> Transport for DeviceTransport<C>
where
    C: IpmiConnection<SendError = io::Error, RecvError = io::Error>,
{
    fn send(&mut self, req: &Request, timeout: Duration) -> Result<Response, TransportError> {
        let start = Instant::now();
        let mut ipmi_req = ipmi_rs::connection::Request::new(
            Message::new_raw(req.netfn, req.cmd, req.data.clone()),
            RequestTargetAddress::Bmc(LogicalUnit::Zero),
        );
        loop {
            match self.conn.send(&mut ipmi_req) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ENOTTY: a regular file or another device.
                Err(e) if e.raw_os_error() == Some(25) => {
                    return Err(TransportError::NotIpmi {
                        path: self.path.clone(),
                    })
                }
                Err(e) => {
                    return Err(TransportError::Io {
                        context: format!("sending {} to {}", req.name(), self.path.display()),
                        source: e,
                    })
                }
            }
        }
        loop {
            match self.conn.recv() {
                Ok(resp) if resp.netfn_raw() == (req.netfn | 1) && resp.cmd() == req.cmd => {
                    return Ok(Response {
                        netfn: resp.netfn_raw(),
                        cmd: resp.cmd(),
                        cc: CompletionCode(resp.cc()),
                        data: resp.data().to_vec(),
                    });
                }
                // A response for some other command with our msgid cannot
                // happen on the system interface; skip it like a stale one.
                Ok(_) => {}
                Err(e) => match e.kind() {
                    // poll slice expired (ipmi-rs maps it to EAGAIN) or a signal.
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => {}
                    // ipmi-rs: msgid mismatch or not-a-response; already consumed.
                    io::ErrorKind::Other => {}
                    _ => {
                        return Err(TransportError::Io {
                            context: format!(
                                "receiving the {} response from {}",
                                req.name(),
                                self.path.display()
                            ),
                            source: e,
                        })
                    }
                },
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(TransportError::Timeout {
                    command: req.name(),
                    after: waited,
                    peer: self.describe(),
                });
            }
        }
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// An ipmi-rs connection that replays scripted `recv` results.
    struct Scripted {
        sent: Vec<(u8, u8, Vec<u8>)>,
        recv: VecDeque<io::Result<ipmi_rs::connection::Response>>,
        send_error: Option<i32>,
    }

    impl IpmiConnection for Scripted {
        type SendError = io::Error;
        type RecvError = io::Error;
        type Error = io::Error;

        fn send(&mut self, r: &mut ipmi_rs::connection::Request) -> io::Result<()> {
            if let Some(errno) = self.send_error {
                return Err(io::Error::from_raw_os_error(errno));
            }
            self.sent.push((r.netfn_raw(), r.cmd(), r.data().to_vec()));
            Ok(())
        }

        fn recv(&mut self) -> io::Result<ipmi_rs::connection::Response> {
            self.recv
                .pop_front()
                .unwrap_or_else(|| Err(io::Error::from_raw_os_error(11)))
        }

        fn send_recv(
            &mut self,
            r: &mut ipmi_rs::connection::Request,
        ) -> io::Result<ipmi_rs::connection::Response> {
            self.send(r)?;
            self.recv()
        }
    }

    fn resp(netfn: u8, cmd: u8, bytes: &[u8]) -> io::Result<ipmi_rs::connection::Response> {
        Ok(
            ipmi_rs::connection::Response::new(Message::new_raw(netfn, cmd, bytes.to_vec()), 0)
                .unwrap(),
        )
    }

    fn get() -> Request {
        Request {
            netfn: 0x06,
            cmd: 0x25,
            data: vec![],
        }
    }

    #[test]
    fn skips_poll_expiry_stale_and_foreign_messages() {
        let conn = Scripted {
            sent: vec![],
            recv: VecDeque::from([
                Err(io::Error::from_raw_os_error(11)), // poll slice expired
                Err(io::Error::from_raw_os_error(4)),  // EINTR
                Err(io::Error::other("Invalid sequence number on response")),
                resp(0x07, 0x22, &[0x00]), // another command's answer
                resp(0x07, 0x25, &[0x00, 4, 0, 0, 0, 0x64, 0, 0, 0]),
            ]),
            send_error: None,
        };
        let mut t = DeviceTransport::with_connection(Path::new("/dev/ipmi0"), conn);
        let r = t.send(&get(), Duration::from_secs(5)).unwrap();
        assert_eq!(r.cc, CompletionCode::OK);
        assert_eq!(r.data, vec![4, 0, 0, 0, 0x64, 0, 0, 0]);
        assert_eq!(t.conn.sent, vec![(0x06, 0x25, vec![])]);
    }

    #[test]
    fn deadline_gives_a_timeout_naming_the_command() {
        let conn = Scripted {
            sent: vec![],
            recv: VecDeque::new(),
            send_error: None,
        };
        let mut t = DeviceTransport::with_connection(Path::new("/dev/ipmi0"), conn);
        // The scripted recv returns EAGAIN at once; the loop ends at the deadline.
        let e = t.send(&get(), Duration::ZERO).unwrap_err().to_string();
        assert!(e.starts_with("Get Watchdog Timer timed out after "), "{e}");
        assert!(e.contains("/dev/ipmi0"), "{e}");
    }

    #[test]
    fn enotty_on_send_means_not_an_ipmi_device() {
        let conn = Scripted {
            sent: vec![],
            recv: VecDeque::new(),
            send_error: Some(25),
        };
        let mut t = DeviceTransport::with_connection(Path::new("/tmp/file"), conn);
        let e = t.send(&get(), Duration::from_secs(1)).unwrap_err();
        assert!(matches!(e, TransportError::NotIpmi { .. }), "{e}");
    }

    #[test]
    fn other_recv_errors_are_io_errors() {
        let conn = Scripted {
            sent: vec![],
            recv: VecDeque::from([Err(io::Error::from_raw_os_error(90))]), // EMSGSIZE
            send_error: None,
        };
        let mut t = DeviceTransport::with_connection(Path::new("/dev/ipmi0"), conn);
        let e = t.send(&get(), Duration::from_secs(1)).unwrap_err();
        assert!(matches!(e, TransportError::Io { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("receiving the Get Watchdog Timer response"),
            "{e}"
        );
    }

    #[test]
    fn missing_device_names_modules_and_sim() {
        let e = DeviceTransport::open(Path::new("/nonexistent/ipmi0"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("/nonexistent/ipmi0"), "{e}");
        assert!(e.contains("modprobe ipmi_devintf ipmi_si"), "{e}");
        assert!(e.contains("--sim"), "{e}");
    }

    #[test]
    fn eacces_says_root_or_group() {
        let e = open_error(Path::new("/dev/ipmi0"), io::Error::from_raw_os_error(13)).to_string();
        assert!(e.contains("permission denied"), "{e}");
        assert!(e.contains("root"), "{e}");
        assert!(e.contains("group"), "{e}");
    }

    #[test]
    fn a_socket_is_not_an_ipmi_device_not_a_missing_driver() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("bmc.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let e = DeviceTransport::open(&sock).err().unwrap();
        assert!(matches!(e, TransportError::NotIpmi { .. }), "{e}");
        assert!(e.to_string().contains("use --socket"), "{e}");
    }

    /// Issue #14: `--device` on a FIFO blocked in open(2) (no writer), where
    /// `--cmd-timeout` does not apply. It is refused from stat(2) alone; if
    /// it were opened this test would hang, so it runs the open on a thread
    /// and gives up after 10 s.
    #[test]
    fn a_fifo_is_refused_without_being_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("ipmi0");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let (tx, rx) = std::sync::mpsc::channel();
        let p = fifo.clone();
        std::thread::spawn(move || {
            let _ = tx.send(DeviceTransport::open(&p).err().map(|e| e.to_string()));
        });
        let e = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("opening a FIFO blocked")
            .unwrap_or_default();
        assert!(e.contains("is not an IPMI device"), "{e}");
        assert!(
            e.contains("a FIFO (named pipe), not a character device"),
            "{e}"
        );
    }

    #[test]
    fn other_non_devices_and_foreign_character_devices_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_node(dir.path()).unwrap_err();
        assert!(
            matches!(
                e,
                TransportError::NotDevice {
                    kind: "a directory",
                    ..
                }
            ),
            "{e}"
        );
        let f = dir.path().join("file");
        std::fs::write(&f, "x").unwrap();
        let e = check_node(&f).unwrap_err();
        assert!(
            matches!(
                e,
                TransportError::NotDevice {
                    kind: "a regular file",
                    ..
                }
            ),
            "{e}"
        );
        // /dev/null is a character device of the `mem` driver (major 1):
        // never an IPMI node, whether ipmi_devintf is loaded or not.
        let e = check_node(Path::new("/dev/null")).unwrap_err();
        assert!(
            matches!(
                e,
                TransportError::NotIpmi { .. } | TransportError::NoDriver { .. }
            ),
            "{e}"
        );
    }

    #[test]
    fn proc_devices_parsing() {
        let text = "Character devices:\n  1 mem\n  4 tty\n239 ipmidev\n\nBlock devices:\n  7 loop\n259 ipmidev\n";
        assert_eq!(ipmidev_major(text), Some(239));
        assert_eq!(
            ipmidev_major("Character devices:\n  1 mem\n\nBlock devices:\n"),
            None
        );
        // makedev(239, 0) and a large major.
        assert_eq!(dev_major(239 << 8), 239);
        assert_eq!(
            dev_major((0x1234 & 0xfff) << 8 | (0x1234 & !0xfff) << 32),
            0x1234
        );
    }

    #[test]
    fn enxio_says_driver() {
        let e = open_error(Path::new("/dev/ipmi0"), io::Error::from_raw_os_error(6));
        assert!(matches!(e, TransportError::NoDriver { .. }));
        assert!(e.to_string().contains("modprobe ipmi_si"));
    }
}
