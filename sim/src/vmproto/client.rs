//! VM side of the VM protocol: what QEMU's `ipmi-bmc-extern` does, for tools
//! that talk to a served BMC directly (e.g. the CLI's Unix-socket transport).
//!
//! Like QEMU it announces `VERSION 1` and its capabilities on connect, numbers
//! requests with an 8-bit `msg_id`, drops answers whose `msg_id` is not the
//! one it waits for (QEMU `ipmi_bt_handle_rsp` does the same), and gives up
//! after a timeout. Control commands from the BMC (ATTN, RESET, …) are kept
//! for the caller in arrival order.
//!
//! Two front ends share one sans-IO core: `VmClient` (tokio, any
//! `AsyncRead + AsyncWrite`; with the `server` feature) and
//! [`BlockingVmClient`] (std `Read + Write`, e.g.
//! `std::os::unix::net::UnixStream`).

use core::fmt;
use core::time::Duration;
use std::io::{self, Read, Write};

use ipmi_bt_sm::CompletionCode;
#[cfg(feature = "server")]
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::codec::{
    Capabilities, ControlCommand, Decoder, Encoder, Unit, VmResponse, PROTOCOL_VERSION,
};

/// Capabilities the client announces: everything QEMU 7.2+ announces.
pub(super) const CLIENT_CAPS: Capabilities = Capabilities(0x3F);

/// A response received by the client, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedResponse {
    /// Response netfn (request netfn | 1).
    pub netfn: u8,
    /// LUN.
    pub lun: u8,
    /// Command.
    pub cmd: u8,
    /// Completion code.
    pub cc: CompletionCode,
    /// Data after the completion code.
    pub data: Vec<u8>,
}

/// Why a client request failed.
#[derive(Debug)]
pub enum VmClientError {
    /// The socket failed.
    Io(io::Error),
    /// The BMC closed the connection.
    Closed,
    /// No matching answer within the timeout. QEMU would answer the guest
    /// with 0xC3 here.
    Timeout(Duration),
    /// The request is larger than QEMU would forward (`MAX_IPMI_MSG_SIZE`).
    TooLarge(usize),
    /// The NetFn does not fit its 6 bits (IPMI v2.0 §5.1: 00h–3Fh).
    BadNetFn(u8),
}

impl fmt::Display for VmClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "VM link I/O error: {e}"),
            Self::Closed => {
                f.write_str("the BMC closed the VM link; is the simulator still running?")
            }
            Self::Timeout(d) => write!(
                f,
                "no answer from the BMC within {} ms ({})",
                d.as_millis(),
                CompletionCode::TIMEOUT
            ),
            Self::TooLarge(n) => write!(
                f,
                "request of {n} bytes exceeds the VM protocol's {} byte limit ({})",
                super::codec::MAX_IPMI_MSG,
                CompletionCode::REQUEST_DATA_TRUNCATED
            ),
            Self::BadNetFn(n) => write!(
                f,
                "NetFn 0x{n:02X} does not fit in 6 bits (0x00-0x3F, IPMI v2.0 section 5.1)"
            ),
        }
    }
}

impl std::error::Error for VmClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for VmClientError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Most control commands kept unread (see `take_controls`); more are
/// counted in `dropped` instead.
pub(super) const MAX_CONTROLS: usize = 1024;

/// Sans-IO client state shared by both front ends.
#[derive(Debug, Default)]
struct Core {
    dec: Decoder,
    enc: Encoder,
    next_id: u8,
    controls: Vec<ControlCommand>,
    stale: u64,
}

impl Core {
    fn hello(&mut self) -> Vec<u8> {
        self.enc.clear();
        self.enc
            .control(ControlCommand::Version(PROTOCOL_VERSION))
            .control(ControlCommand::Capabilities(CLIENT_CAPS));
        self.enc.take()
    }

    fn request(
        &mut self,
        netfn: u8,
        lun: u8,
        cmd: u8,
        data: &[u8],
    ) -> Result<(u8, Vec<u8>), VmClientError> {
        if data.len() + 2 > super::codec::MAX_IPMI_MSG {
            return Err(VmClientError::TooLarge(data.len() + 2));
        }
        if netfn > 0x3F {
            // `netfn << 2` would silently lose its top bits.
            return Err(VmClientError::BadNetFn(netfn));
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.enc.clear();
        self.enc.request(id, (netfn << 2) | (lun & 3), cmd, data);
        Ok((id, self.enc.take()))
    }

    /// Feeds received bytes; returns the answer for `want` if it arrived and
    /// `accept` takes it (a unit with the right id that `accept` refuses is
    /// counted as stale, like one for another id).
    fn feed(
        &mut self,
        bytes: &[u8],
        want: u8,
        accept: &dyn Fn(&OwnedResponse) -> bool,
    ) -> Option<OwnedResponse> {
        let mut found = None;
        for &b in bytes {
            match self.dec.push(b) {
                // A server flooding control units must not grow memory
                // without bound: past MAX_CONTROLS unread ones, drop them.
                Some(Unit::Control(c)) if self.controls.len() < MAX_CONTROLS => {
                    self.controls.push(c);
                }
                Some(Unit::Control(_)) => self.stale += 1,
                Some(Unit::Message(m)) => match VmResponse::parse(m) {
                    Ok(r) if r.msg_id == want && found.is_none() => {
                        let answer = OwnedResponse {
                            netfn: r.netfn_lun >> 2,
                            lun: r.netfn_lun & 3,
                            cmd: r.cmd,
                            cc: CompletionCode(r.cc),
                            data: r.data.to_vec(),
                        };
                        if accept(&answer) {
                            found = Some(answer);
                        } else {
                            self.stale += 1;
                        }
                    }
                    _ => self.stale += 1,
                },
                Some(Unit::Discarded(_)) => self.stale += 1,
                None => {}
            }
        }
        found
    }
}

/// Async VM-side client over any tokio byte stream.
#[cfg(feature = "server")]
#[derive(Debug)]
pub struct VmClient<S> {
    stream: S,
    core: Core,
}

#[cfg(feature = "server")]
impl<S> VmClient<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    /// Wraps a connected stream and sends the opening `VERSION` and
    /// `CAPABILITIES` control commands.
    pub async fn new(mut stream: S) -> Result<Self, VmClientError> {
        let mut core = Core::default();
        stream.write_all(&core.hello()).await?;
        stream.flush().await?;
        Ok(Self { stream, core })
    }

    /// Sends one request and waits up to `timeout` for the answer with the
    /// same `msg_id`. Answers for other ids are dropped, like QEMU does.
    pub async fn request(
        &mut self,
        netfn: u8,
        lun: u8,
        cmd: u8,
        data: &[u8],
        timeout: Duration,
    ) -> Result<OwnedResponse, VmClientError> {
        let (id, bytes) = self.core.request(netfn, lun, cmd, data)?;
        self.stream.write_all(&bytes).await?;
        self.stream.flush().await?;
        let now = tokio::time::Instant::now();
        // An unrepresentable deadline (a timeout of centuries) waits a day.
        let deadline = now
            .checked_add(timeout)
            .unwrap_or(now + Duration::from_secs(86_400));
        let mut buf = [0u8; 512];
        loop {
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut buf))
                .await
                .map_err(|_| VmClientError::Timeout(timeout))??;
            if n == 0 {
                return Err(VmClientError::Closed);
            }
            if let Some(r) = self
                .core
                .feed(buf.get(..n).unwrap_or_default(), id, &|_| true)
            {
                return Ok(r);
            }
        }
    }

    /// Control commands received so far (ATTN, RESET, …), oldest first;
    /// the list is emptied.
    pub fn take_controls(&mut self) -> Vec<ControlCommand> {
        core::mem::take(&mut self.core.controls)
    }

    /// Units dropped so far: answers for other msg_ids and damaged units.
    pub fn dropped(&self) -> u64 {
        self.core.stale
    }
}

#[cfg(feature = "server")]
impl VmClient<tokio::net::UnixStream> {
    /// Connects to a VM server listening on a Unix socket.
    pub async fn connect_unix(path: &std::path::Path) -> Result<Self, VmClientError> {
        Self::new(tokio::net::UnixStream::connect(path).await?).await
    }
}

/// Blocking VM-side client over a std byte stream with read timeouts.
#[derive(Debug)]
pub struct BlockingVmClient<S> {
    stream: S,
    core: Core,
}

/// A std stream whose read timeout can be set (sockets).
pub trait SetReadTimeout {
    /// Sets the timeout of subsequent reads.
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()>;
}

impl SetReadTimeout for std::os::unix::net::UnixStream {
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, d)
    }
}

impl SetReadTimeout for std::net::TcpStream {
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        std::net::TcpStream::set_read_timeout(self, d)
    }
}

impl<S: Read + Write + SetReadTimeout> BlockingVmClient<S> {
    /// Wraps a connected stream and sends the opening control commands.
    pub fn new(mut stream: S) -> Result<Self, VmClientError> {
        let mut core = Core::default();
        stream.write_all(&core.hello())?;
        stream.flush()?;
        Ok(Self { stream, core })
    }

    /// Sends one request and waits up to `timeout` for its answer (the first
    /// unit with its `msg_id`, as QEMU takes it).
    pub fn request(
        &mut self,
        netfn: u8,
        lun: u8,
        cmd: u8,
        data: &[u8],
        timeout: Duration,
    ) -> Result<OwnedResponse, VmClientError> {
        self.request_matching(netfn, lun, cmd, data, timeout, &|_| true)
    }

    /// Like [`request`](Self::request), but an answer with the right `msg_id`
    /// that `accept` refuses (e.g. the wrong command) is skipped, and the
    /// client keeps waiting for one it takes.
    pub fn request_matching(
        &mut self,
        netfn: u8,
        lun: u8,
        cmd: u8,
        data: &[u8],
        timeout: Duration,
        accept: &dyn Fn(&OwnedResponse) -> bool,
    ) -> Result<OwnedResponse, VmClientError> {
        let (id, bytes) = self.core.request(netfn, lun, cmd, data)?;
        self.stream.write_all(&bytes)?;
        self.stream.flush()?;
        let now = std::time::Instant::now();
        let deadline = now
            .checked_add(timeout)
            .unwrap_or(now + Duration::from_secs(86_400));
        let mut buf = [0u8; 512];
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(VmClientError::Timeout(timeout));
            }
            self.stream.set_read_timeout(Some(left))?;
            let n = match self.stream.read(&mut buf) {
                Ok(0) => return Err(VmClientError::Closed),
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(VmClientError::Timeout(timeout))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if let Some(r) = self.core.feed(buf.get(..n).unwrap_or_default(), id, accept) {
                return Ok(r);
            }
        }
    }

    /// Control commands received so far, oldest first; the list is emptied.
    pub fn take_controls(&mut self) -> Vec<ControlCommand> {
        core::mem::take(&mut self.core.controls)
    }

    /// Units dropped so far (other msg_ids, damaged units).
    pub fn dropped(&self) -> u64 {
        self.core.stale
    }
}

impl BlockingVmClient<std::os::unix::net::UnixStream> {
    /// Connects to a VM server listening on a Unix socket.
    pub fn connect_unix(path: &std::path::Path) -> Result<Self, VmClientError> {
        Self::new(std::os::unix::net::UnixStream::connect(path)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_out_of_range_are_refused_before_anything_is_sent() {
        let mut c = Core::default();
        assert!(matches!(
            c.request(0x40, 0, 0x01, &[]),
            Err(VmClientError::BadNetFn(0x40))
        ));
        assert!(matches!(
            c.request(0x06, 0, 0x01, &[0; 299]),
            Err(VmClientError::TooLarge(301))
        ));
        assert!(VmClientError::BadNetFn(0x40).to_string().contains("0x40"));
        // Neither used up a msg_id.
        assert_eq!(c.request(0x06, 0, 0x01, &[]).unwrap().0, 0);
    }

    #[test]
    fn an_answer_accept_refuses_is_stale_and_the_next_one_is_taken() {
        let mut enc = Encoder::new();
        enc.response(3, 0x07 << 2, 0x24, 0x00, &[])
            .response(3, 0x07 << 2, 0x25, 0x00, &[0x04]);
        let mut c = Core::default();
        let r = c
            .feed(enc.bytes(), 3, &|r| r.cmd == 0x25)
            .expect("the second unit");
        assert_eq!((r.cmd, r.data.as_slice()), (0x25, &[0x04][..]));
        assert_eq!(c.stale, 1);
        // Without a test the first unit with the id is the answer (QEMU's rule).
        let mut c = Core::default();
        assert_eq!(c.feed(enc.bytes(), 3, &|_| true).unwrap().cmd, 0x24);
    }

    #[test]
    fn answers_split_anywhere_or_for_other_ids_and_control_floods() {
        let mut enc = Encoder::new();
        enc.response(7, 0x07 << 2, 0x01, 0x00, &[0xA0, 0xAA]);
        let bytes = enc.take();
        for cut in 0..bytes.len() {
            let mut c = Core::default();
            let (a, b) = bytes.split_at(cut);
            assert!(
                c.feed(a, 7, &|_| true).is_none(),
                "answer before its last byte"
            );
            let r = c.feed(b, 7, &|_| true).expect("whole answer");
            assert_eq!(
                (r.netfn, r.cmd, r.data.as_slice()),
                (0x07, 0x01, &[0xA0, 0xAA][..])
            );
        }
        // An answer for another id, and a damaged unit, are counted and skipped.
        let mut c = Core::default();
        assert!(c.feed(&bytes, 8, &|_| true).is_none());
        assert!(c.feed(&[0x01, 0x02, 0xA0], 8, &|_| true).is_none());
        assert_eq!(c.stale, 2);
        // A flood of control units keeps at most MAX_CONTROLS.
        let mut flood = Encoder::new();
        for _ in 0..MAX_CONTROLS + 10 {
            flood.control(ControlCommand::Attn);
        }
        assert!(c.feed(flood.bytes(), 8, &|_| true).is_none());
        assert_eq!(c.controls.len(), MAX_CONTROLS);
        assert_eq!(c.stale, 12);
    }
}
