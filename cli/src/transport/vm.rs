//! Client ("VM") side of the OpenIPMI VM protocol — the one QEMU's
//! `ipmi-bmc-extern` speaks — over a Unix socket, to reach a simulator started
//! with `bmcwd sim serve --socket PATH`.
//!
//! Wire format (OpenIPMI `lib/serial_vm.c`-style codec, as QEMU's
//! `hw/ipmi/ipmi_bmc_extern.c` implements it; see
//! `spec-notes/bmc-watchdog.md` §4):
//! * `0xA0` ends a message, `0xA1` ends a control command, `0xAA` escapes: a
//!   payload byte `b` in {A0, A1, AA} goes out as `AA, b | 0x10`.
//! * request `msg_id, netfn<<2 | lun, cmd, data…, checksum, A0`;
//!   response `msg_id, netfn<<2 | lun, cmd, cc, data…, checksum, A0`;
//!   checksum = two's complement of the byte sum of the unit before it.
//! * Framing, msg_id allocation and the read loop are
//!   `bmc_sim::vmproto::BlockingVmClient`'s (the same core as the
//!   async VM-side client the server's tests use); this module adds what a
//!   management tool needs on top: a response must also carry the request's
//!   command and NetFn + 1, and errors name the command and the socket.
//! * On connect we send what QEMU sends: `FF 01 A1` (version 1) and `08 3F A1`
//!   (capabilities: power off, reset, IRQ, NMI, ATN, graceful shutdown).
//!
//! Control commands from the BMC (ATN, IRQ enable, reset, power off, NMI) are
//! read and discarded: this client is a management tool, not a machine.
//! Responses whose `msg_id` does not match the pending request are dropped, as
//! QEMU does.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bmc_sim::vmproto::{BlockingVmClient, VmClientError};

use super::{Request, Response, Transport, TransportError};

/// A simulator reached over a Unix socket with the VM protocol.
pub struct VmSocketTransport {
    path: PathBuf,
    client: BlockingVmClient<UnixStream>,
}

impl VmSocketTransport {
    /// Connects and sends the opening version and capabilities commands.
    pub fn connect(path: &Path) -> Result<Self, TransportError> {
        let stream = UnixStream::connect(path).map_err(|source| match not_socket_kind(path) {
            Some(kind) => TransportError::NotSocket {
                path: path.to_path_buf(),
                kind,
            },
            None => TransportError::Connect {
                path: path.to_path_buf(),
                source,
            },
        })?;
        Self::from_stream(stream, path)
    }

    /// Uses an already connected stream (`path` names it in messages); sends
    /// the opening version and capabilities commands.
    pub fn from_stream(stream: UnixStream, path: &Path) -> Result<Self, TransportError> {
        let client = BlockingVmClient::new(stream).map_err(|e| TransportError::Io {
            context: format!("greeting the simulator at {}", path.display()),
            source: into_io(e),
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            client,
        })
    }
}

/// The I/O error inside a client error (the greeting can only fail on I/O).
fn into_io(e: VmClientError) -> std::io::Error {
    match e {
        VmClientError::Io(source) => source,
        other => std::io::Error::other(other.to_string()),
    }
}

/// What `path` is when it exists but is not a socket (`None` if it is a
/// socket or does not exist): "start a server there" would be wrong advice.
fn not_socket_kind(path: &Path) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = std::fs::metadata(path).ok()?.file_type();
    if t.is_socket() {
        None
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_file() {
        Some("a regular file")
    } else {
        Some("a device or pipe")
    }
}

impl Transport for VmSocketTransport {
    fn send(&mut self, req: &Request, timeout: Duration) -> Result<Response, TransportError> {
        let start = Instant::now();
        let (want_netfn, want_cmd) = (req.netfn | 1, req.cmd);
        let answer =
            self.client
                .request_matching(req.netfn & !1, 0, req.cmd, &req.data, timeout, &|r| {
                    r.netfn == want_netfn && r.cmd == want_cmd
                });
        // Unsolicited control commands mean nothing to a management tool;
        // drop them so a long-running daemon keeps none.
        drop(self.client.take_controls());
        match answer {
            Ok(r) => Ok(Response {
                netfn: r.netfn,
                cmd: r.cmd,
                cc: r.cc,
                data: r.data,
            }),
            Err(VmClientError::Timeout(_)) => Err(TransportError::Timeout {
                command: req.name(),
                after: start.elapsed(),
                peer: self.describe(),
            }),
            Err(VmClientError::Closed) => Err(TransportError::Closed {
                peer: self.describe(),
                command: req.name(),
            }),
            Err(VmClientError::Io(source)) => Err(TransportError::Io {
                context: format!("exchanging {} with {}", req.name(), self.describe()),
                source,
            }),
            Err(e @ (VmClientError::TooLarge(_) | VmClientError::BadNetFn(_))) => Err(
                TransportError::Invalid(format!("{} cannot be sent: {e}", req.name())),
            ),
        }
    }

    fn describe(&self) -> String {
        format!("simulator at {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bmc_sim::vmproto::{ControlCommand, Decoder, Encoder, Unit};
    use ipmi_bt_sm::CompletionCode;
    use std::io::{Read, Write};
    use std::thread;

    fn get_req() -> Request {
        Request {
            netfn: 0x06,
            cmd: 0x25,
            data: vec![],
        }
    }

    /// Reads until `n` message units arrived; returns their msg_ids.
    fn read_requests(s: &mut UnixStream, n: usize) -> Vec<u8> {
        let mut d = Decoder::new();
        let mut ids = Vec::new();
        let mut b = [0u8; 1];
        while ids.len() < n {
            s.read_exact(&mut b).unwrap();
            if let Some(Unit::Message(m)) = d.push(b[0]) {
                ids.push(m[0]);
            }
        }
        ids
    }

    #[test]
    fn skips_stale_ids_and_control_units_then_matches() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut t = VmSocketTransport::from_stream(a, Path::new("test")).unwrap();
        let server = thread::spawn(move || {
            let ids = read_requests(&mut b, 1);
            let id = ids[0];
            let mut enc = Encoder::new();
            enc.control(ControlCommand::Attn)
                .response(id.wrapping_add(1), 0x07 << 2, 0x25, 0x00, &[9; 8]) // stale
                .response(id, 0x07 << 2, 0x24, 0x00, &[]) // wrong command
                .response(id, 0x07 << 2, 0x25, 0x00, &[4, 0, 0, 0, 0x64, 0, 0, 0]);
            b.write_all(enc.bytes()).unwrap();
            b
        });
        let r = t.send(&get_req(), Duration::from_secs(5)).unwrap();
        assert_eq!(r.cc, CompletionCode::OK);
        assert_eq!(r.data, vec![4, 0, 0, 0, 0x64, 0, 0, 0]);
        drop(server.join().unwrap());
    }

    #[test]
    fn silence_times_out_naming_the_command() {
        let (a, _b) = UnixStream::pair().unwrap();
        let mut t = VmSocketTransport::from_stream(a, Path::new("test")).unwrap();
        let e = t.send(&get_req(), Duration::from_millis(100)).unwrap_err();
        assert!(matches!(e, TransportError::Timeout { .. }));
        assert!(
            e.to_string()
                .starts_with("Get Watchdog Timer timed out after 0.1 s"),
            "{e}"
        );
    }

    #[test]
    fn closed_peer_is_reported() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut t = VmSocketTransport::from_stream(a, Path::new("test")).unwrap();
        drop(b);
        let e = t.send(&get_req(), Duration::from_secs(1)).unwrap_err();
        assert!(
            matches!(e, TransportError::Closed { .. } | TransportError::Io { .. }),
            "{e}"
        );
    }

    #[test]
    fn a_path_that_is_not_a_socket_says_so_instead_of_advising_serve() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        for (path, kind) in [
            (file, "a regular file"),
            (dir.path().to_path_buf(), "a directory"),
        ] {
            let e = VmSocketTransport::connect(&path).err().unwrap();
            assert!(
                matches!(e, TransportError::NotSocket { kind: k, .. } if k == kind),
                "{e}"
            );
            let msg = e.to_string();
            assert!(msg.contains("not a Unix socket"), "{msg}");
            assert!(!msg.contains("start it with"), "{msg}");
        }
        // A missing path still gets the "start the server" advice.
        let e = VmSocketTransport::connect(&dir.path().join("absent"))
            .err()
            .unwrap();
        assert!(matches!(e, TransportError::Connect { .. }), "{e}");
        assert!(e.to_string().contains("bmcwd sim serve --socket"), "{e}");
    }

    /// Our request framing matches the reference's worked example
    /// (bmc-watchdog.md §4.3: Linux watchdog start Set, id 07).
    #[test]
    fn request_framing_matches_reference() {
        let mut enc = Encoder::new();
        enc.request(7, 0x06 << 2, 0x24, &[0x44, 0x01, 0x00, 0x00, 0x64, 0x00]);
        assert_eq!(
            enc.bytes(),
            &[0x07, 0x18, 0x24, 0x44, 0x01, 0x00, 0x00, 0x64, 0x00, 0x14, 0xA0]
        );
    }
}
