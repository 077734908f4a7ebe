//! The kernel's log lines as data: every `printk`/`dev_*`/`pr_cont` call of
//! `ipmi_bt_sm.c` becomes one [`LogRecord`] handed to a [`LogSink`] — never printed.
//!
//! A record is `Copy` and carries no heap data, so emitting one costs nothing on the
//! hot path. Its [`Display`](core::fmt::Display) is the kernel's text, word for word,
//! for the record's [`LogStyle`] (without the `dev_*` device prefix, which is the
//! caller's business, and without the trailing newline). Continuation calls
//! (`printk` without level, `pr_cont`) have `cont == true`; [`LineAssembler`] joins
//! them into whole lines as `dmesg` would show them. A `dev_*` call always ends its
//! line, so in the [`LogStyle::Dev`] texts a continuation after it is a line of its
//! own ([`LogRecord::ends_line`]).

use core::fmt;

use crate::state::State;

/// Kernel log level (`KERN_EMERG` = 0 … `KERN_DEBUG` = 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// `KERN_EMERG`.
    Emerg,
    /// `KERN_ALERT`.
    Alert,
    /// `KERN_CRIT`.
    Crit,
    /// `KERN_ERR` / `dev_err`.
    Err,
    /// `KERN_WARNING` / `dev_warn`.
    Warning,
    /// `KERN_NOTICE`.
    Notice,
    /// `KERN_INFO` / `dev_info`.
    Info,
    /// `KERN_DEBUG` / `dev_dbg`.
    Debug,
}

impl Level {
    /// The numeric level as in `<4>`.
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// Short lowercase name as `dmesg -x` prints it (`warn`, `err`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Level::Emerg => "emerg",
            Level::Alert => "alert",
            Level::Crit => "crit",
            Level::Err => "err",
            Level::Warning => "warn",
            Level::Notice => "notice",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which generation of message texts a record uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStyle {
    /// 2.6.12 texts (`BT: timed out in …`, `IPMI: BT stuck, try power cycle`).
    Printk2005,
    /// 2006–2018 `printk` texts (`IPMI BT: …`, `IPMI: BT reset (takes 5 secs)`).
    Printk,
    /// Newer `dev_*` texts (device prefix omitted: `BT reset (takes 5 secs)`).
    Dev,
}

/// How the kernel's printk of an era joins a levelled message to an open line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrintkEra {
    /// Before 2.6.31: a `KERN_WARNING` printk after an unterminated line continues
    /// it (2007 logs show `… [ ] failed 2 retries, sending error response` on one line).
    Pre2_6_31,
    /// 2.6.31 onwards: a level prefix always starts a new line; a bare `printk`
    /// (no level) still continues the open line.
    Modern,
    /// 4.9 onwards ("printk: reinstate KERN_CONT for printing continuation lines"):
    /// only `KERN_CONT`/`pr_cont` continue; a bare `printk` starts a new line.
    KernCont,
}

/// Why `error_recovery` was entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Timeout (cc 0xC3): `timeout` (2005: `timed out`).
    Timeout,
    /// Default branch (cc 0xFF): `internal error` (2005: `internal logic error`).
    InternalError,
}

/// `STATUS2TXT`: `[ B_BUSY H_BUSY OEM0 SMS B2H H2B ]` in that fixed order; bits
/// 0x01/0x02 are never shown, so `[ ]` may still be a non-zero status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusText(pub u8);

impl fmt::Display for StatusText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[ ")?;
        for (bit, name) in [
            (0x80, "B_BUSY "),
            (0x40, "H_BUSY "),
            (0x20, "OEM0 "),
            (0x10, "SMS "),
            (0x08, "B2H "),
            (0x04, "H2B "),
        ] {
            if self.0 & bit != 0 {
                f.write_str(name)?;
            }
        }
        f.write_str("]")
    }
}

/// One kernel message (or message fragment), without heap data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogMsg {
    /// `error_recovery` head, open-ended: `IPMI BT: %s in %s %s ` (2005: `BT: …`).
    ErrorRecovery {
        /// timeout or internal error.
        reason: Reason,
        /// State at the time of the error.
        state: State,
        /// CTRL status shown.
        status: u8,
    },
    /// 2.6.19 `error_recovery` head, a complete KERN_DEBUG line: `BT: %s in %s %s`.
    ErrorRecoveryLine {
        /// timeout or internal error.
        reason: Reason,
        /// State at the time of the error.
        state: State,
        /// CTRL status shown.
        status: u8,
    },
    /// Continuation `%d retries left`.
    RetriesLeft(i64),
    /// `failed %d retries, sending error response` (the configured retries).
    Failed {
        /// `BT_CAP_retries`.
        retries: i64,
    },
    /// `IPMI BT: stuck, try power cycle` (err).
    Stuck,
    /// `IPMI: BT reset (takes 5 secs)`.
    Reset,
    /// `IPMI BT: using default values`.
    UsingDefaults,
    /// `IPMI BT: req2rsp=%ld secs retries=%d`.
    Caps {
        /// req2rsp in whole seconds.
        req2rsp_secs: i64,
        /// retries.
        retries: i64,
    },
    /// Detect: `bt cap response too short: %d`.
    CapsTooShort(usize),
    /// Detect: `Error fetching bt cap: %x`.
    CapsError(u8),
    /// Detect: `Can't start capabilities transaction: %d`.
    CantStartCaps(i32),
    /// Newest start_transaction: `BT in invalid state %d`.
    InvalidState(u8),
    /// Debug (bt_debug != 0) reset_flags: `IPMI BT: flag reset %s`.
    FlagReset(u8),
    /// Debug drain head, open-ended: `IPMI BT: stale response %s; `.
    StaleResponse(u8),
    /// Debug drain continuation: `drained %d bytes`.
    Drained(i32),
    /// Debug (bt_debug & 4): `BT: %s %s TO=%ld - %ld`.
    StateChange {
        /// Current state.
        state: State,
        /// CTRL status read this event.
        status: u8,
        /// Remaining timeout (µs) before this event's charge.
        timeout: i64,
        /// The `time` argument.
        time: i64,
    },
    /// Debug (bt_debug & 2): `BT: +++++++++++++++++ New command` (2005: a row of `+`).
    NewCommand,
    /// Debug, open-ended: `BT: NetFn/LUN CMD [%d data]:`.
    CommandHead(i32),
    /// Debug 2005, open-ended: `BT: write seq=0x%02X:`.
    WriteSeq2005(u8),
    /// Debug, open-ended: `BT: write %d bytes seq=0x%02X`.
    Write {
        /// Bytes written.
        count: i32,
        /// `bt->seq` (already the *next* seq in 2006+ code).
        seq: u8,
    },
    /// Debug continuation ` %02x` (one per byte, as the kernel's loop).
    HexByte(u8),
    /// Debug continuation ending a dump line (`printk("\n")`).
    LineEnd,
    /// Debug 2005, open-ended: `BT: read %d bytes:`.
    Read2005(i32),
    /// Debug 2005 continuation: `bad length %d`.
    BadLength2005(i32),
    /// Debug: `BT: bad raw rsp len=%d`.
    BadRawLen(i32),
    /// Debug, open-ended: `BT: got %d bytes seq=0x%02X`.
    Got {
        /// Bytes including the length byte.
        count: i32,
        /// Response seq.
        seq: u8,
    },
    /// Debug continuation ending the `got` line: ` ...` if truncated to 16 bytes.
    GotEnd {
        /// More than 16 bytes were received.
        more: bool,
    },
    /// Debug: `IPMI BT: bad packet: want 0x(%02X, %02X, %02X) got (%02X, %02X, %02X)`.
    BadPacket {
        /// Expected NetFn, seq, cmd.
        want: [u8; 3],
        /// Received NetFn, seq, cmd.
        got: [u8; 3],
    },
    /// Debug, open-ended: `BT: result %d bytes:` (2005: `BT: res (raw)`).
    Result(i32),
    /// 2005 continuation: `retry limit (%d) exceeded`.
    RetryLimitExceeded(i32),
    /// 2005 continuation: `retry B2H_WAIT`.
    RetryB2hWait,
    /// 2005 continuation: `restart command`.
    RestartCommand,
    /// 2005 get_result: `BT results: bad msg_len = %d`.
    BadMsgLen2005(i32),
    /// 2005 read_all_bytes: `BT: internal error: sequence mismatch`.
    SeqMismatch2005,
    /// Not kernel text: the model's note that an 8-bit read index would make the
    /// kernel loop forever here (B-11).
    ReadIndexWrapped,
    /// Text formatted by C code (the kernel's own `ipmi_bt_sm.c` run through the
    /// `ipmi-kernel-c` harness): exactly what its `vsnprintf` produced, inline.
    Text(KernelText),
}

/// Capacity of a [`KernelText`] in bytes (longer texts are cut at a character
/// boundary; no message of `ipmi_bt_sm.c` comes near it).
pub const KERNEL_TEXT_MAX: usize = 190;

/// A formatted kernel message carried inline (no heap), so a [`LogRecord`] from C
/// stays `Copy` like every other record.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KernelText {
    len: u8,
    /// The format ended with `\n` (the newline itself is not stored).
    newline: bool,
    bytes: [u8; KERNEL_TEXT_MAX],
}

impl KernelText {
    /// Stores `text`; a trailing `\n` is removed and remembered as
    /// [`ends_line`](Self::ends_line). Over-long text is cut at a char boundary.
    pub fn new(text: &str) -> Self {
        let (body, newline) = match text.strip_suffix('\n') {
            Some(b) => (b, true),
            None => (text, false),
        };
        let mut n = body.len().min(KERNEL_TEXT_MAX);
        while !body.is_char_boundary(n) {
            n -= 1;
        }
        let mut bytes = [0u8; KERNEL_TEXT_MAX];
        bytes[..n].copy_from_slice(&body.as_bytes()[..n]);
        Self {
            len: n as u8,
            newline,
            bytes,
        }
    }

    /// The text without the trailing newline.
    pub fn as_str(&self) -> &str {
        let n = usize::from(self.len).min(KERNEL_TEXT_MAX);
        core::str::from_utf8(&self.bytes[..n]).unwrap_or("")
    }

    /// True if the formatted text ended with `\n`.
    pub const fn ends_line(&self) -> bool {
        self.newline
    }
}

impl fmt::Debug for KernelText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}{}",
            self.as_str(),
            if self.newline { "\\n" } else { "" }
        )
    }
}

impl LogMsg {
    /// True if the kernel's format ends with `\n` (the line is complete).
    pub const fn ends_line(&self) -> bool {
        if let LogMsg::Text(t) = self {
            return t.ends_line();
        }
        !matches!(
            self,
            LogMsg::ErrorRecovery { .. }
                | LogMsg::StaleResponse(_)
                | LogMsg::CommandHead(_)
                | LogMsg::WriteSeq2005(_)
                | LogMsg::Write { .. }
                | LogMsg::HexByte(_)
                | LogMsg::Read2005(_)
                | LogMsg::Got { .. }
                | LogMsg::Result(_)
        )
    }

    /// False only for the model's own annotations.
    pub const fn is_kernel_text(&self) -> bool {
        !matches!(self, LogMsg::ReadIndexWrapped)
    }
}

/// One emitted message: level, content, text style, and whether the kernel call was
/// a continuation of the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogRecord {
    /// Kernel level (for continuations: the level of the line being continued).
    pub level: Level,
    /// What was logged.
    pub msg: LogMsg,
    /// Text generation.
    pub style: LogStyle,
    /// `printk` without level / `KERN_CONT` / `pr_cont`: appends to the open line.
    pub cont: bool,
    /// The call was a bare `printk` with no level and no `KERN_CONT` (only with
    /// `cont`): from 4.9 ([`PrintkEra::KernCont`]) such a call starts a new line.
    pub bare: bool,
}

impl LogRecord {
    /// True for a `dev_*` call (`dev_warn`, `dev_err`, `dev_info`, `dev_dbg`): a
    /// non-continuation record in the [`LogStyle::Dev`] texts.
    pub const fn is_dev_call(&self) -> bool {
        matches!(self.style, LogStyle::Dev) && !self.cont
    }

    /// True if this call terminates its line: the format ends in `\n`, or it is a
    /// `dev_*` call. printk gives every record that carries device information a
    /// newline whatever its format says (`kernel/printk/printk.c` `vprintk_store`:
    /// `if (dev_info) flags |= LOG_NEWLINE`; before 5.10 `vprintk_emit`: a record
    /// with a dictionary gets `LOG_PREFIX|LOG_NEWLINE`), so the open-ended
    /// `dev_warn(…, "IPMI BT: %s in %s %s ", …)` head of `error_recovery` is a line
    /// of its own and the `pr_cont("%d retries left\n")` after it starts a new
    /// line without the device prefix (seen on Debian's 6.1,
    /// `spec-notes/kernel-vs-model.md` D1).
    pub const fn ends_line(&self) -> bool {
        self.msg.ends_line() || self.is_dev_call()
    }
}

impl PrintkEra {
    /// True if `rec` continues an open line under this era's printk (the open
    /// line's own end is [`LogRecord::ends_line`]'s business).
    pub const fn continues(self, rec: &LogRecord) -> bool {
        match self {
            PrintkEra::Pre2_6_31 => true,
            PrintkEra::Modern => rec.cont,
            PrintkEra::KernCont => rec.cont && !rec.bare,
        }
    }
}

impl fmt::Display for LogRecord {
    /// The kernel's text for this record's style, without device prefix or newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use LogStyle::*;
        let s = self.style;
        let dev = s == Dev;
        match self.msg {
            LogMsg::ErrorRecovery { reason, state, status } => {
                let (pfx, r) = match (s, reason) {
                    (Printk2005, Reason::Timeout) => ("BT: ", "timed out"),
                    (Printk2005, Reason::InternalError) => ("BT: ", "internal logic error"),
                    (_, Reason::Timeout) => ("IPMI BT: ", "timeout"),
                    (_, Reason::InternalError) => ("IPMI BT: ", "internal error"),
                };
                write!(f, "{pfx}{r} in {} {} ", state.text(), StatusText(status))
            }
            LogMsg::ErrorRecoveryLine {
                reason,
                state,
                status,
            } => {
                let r = match reason {
                    Reason::Timeout => "timed out",
                    Reason::InternalError => "internal logic error",
                };
                write!(f, "BT: {r} in {} {}", state.text(), StatusText(status))
            }
            LogMsg::RetriesLeft(n) => write!(f, "{n} retries left"),
            LogMsg::Failed { retries } => {
                write!(f, "failed {retries} retries, sending error response")
            }
            LogMsg::Stuck => f.write_str(match s {
                Printk2005 => "IPMI: BT stuck, try power cycle",
                Printk => "IPMI BT: stuck, try power cycle",
                Dev => "stuck, try power cycle",
            }),
            LogMsg::Reset => f.write_str(if dev {
                "BT reset (takes 5 secs)"
            } else {
                "IPMI: BT reset (takes 5 secs)"
            }),
            LogMsg::UsingDefaults => f.write_str(if dev {
                "using default values"
            } else {
                "IPMI BT: using default values"
            }),
            LogMsg::Caps { req2rsp_secs, retries } => {
                if !dev {
                    f.write_str("IPMI BT: ")?;
                }
                write!(f, "req2rsp={req2rsp_secs} secs retries={retries}")
            }
            LogMsg::CapsTooShort(n) => write!(f, "bt cap response too short: {n}"),
            LogMsg::CapsError(cc) => write!(f, "Error fetching bt cap: {cc:x}"),
            LogMsg::CantStartCaps(rv) => write!(f, "Can't start capabilities transaction: {rv}"),
            LogMsg::InvalidState(n) => write!(f, "BT in invalid state {n}"),
            LogMsg::FlagReset(st) => {
                if !dev {
                    f.write_str("IPMI BT: ")?;
                }
                write!(f, "flag reset {}", StatusText(st))
            }
            LogMsg::StaleResponse(st) => {
                if !dev {
                    f.write_str("IPMI BT: ")?;
                }
                write!(f, "stale response {}; ", StatusText(st))
            }
            LogMsg::Drained(n) => write!(f, "drained {n} bytes"),
            LogMsg::StateChange { state, status, timeout, time } => {
                write!(f, "BT: {} {} TO={timeout} - {time}", state.text(), StatusText(status))?;
                if dev {
                    Ok(())
                } else {
                    f.write_str(" ")
                }
            }
            LogMsg::NewCommand => f.write_str(match s {
                Printk2005 => "+++++++++++++++++++++++++++++++++++++",
                Printk => "BT: +++++++++++++++++ New command",
                Dev => "+++++++++++++++++ New command",
            }),
            LogMsg::CommandHead(n) => {
                if !dev {
                    f.write_str("BT: ")?;
                }
                write!(f, "NetFn/LUN CMD [{n} data]:")
            }
            LogMsg::WriteSeq2005(seq) => write!(f, "BT: write seq=0x{seq:02X}:"),
            LogMsg::Write { count, seq } => {
                if !dev {
                    f.write_str("BT: ")?;
                }
                write!(f, "write {count} bytes seq=0x{seq:02X}")
            }
            LogMsg::HexByte(b) => write!(f, " {b:02x}"),
            LogMsg::LineEnd => Ok(()),
            LogMsg::Read2005(n) => write!(f, "BT: read {n} bytes:"),
            LogMsg::BadLength2005(n) => write!(f, "bad length {n}"),
            LogMsg::BadRawLen(n) => {
                if !dev {
                    f.write_str("BT: ")?;
                }
                write!(f, "bad raw rsp len={n}")
            }
            LogMsg::Got { count, seq } => {
                if !dev {
                    f.write_str("BT: ")?;
                }
                write!(f, "got {count} bytes seq=0x{seq:02X}")
            }
            LogMsg::GotEnd { more } => f.write_str(if more { " ..." } else { "" }),
            LogMsg::BadPacket { want, got } => write!(
                f,
                "{}bad packet: want 0x({:02X}, {:02X}, {:02X}) got ({:02X}, {:02X}, {:02X})",
                if s == Printk2005 { "BT: " } else { "IPMI BT: " },
                want[0],
                want[1],
                want[2],
                got[0],
                got[1],
                got[2]
            ),
            LogMsg::Result(n) => match s {
                Printk2005 => f.write_str("BT: res (raw)"),
                Printk => write!(f, "BT: result {n} bytes:"),
                Dev => write!(f, "result {n} bytes:"),
            },
            LogMsg::RetryLimitExceeded(n) => write!(f, "retry limit ({n}) exceeded"),
            LogMsg::RetryB2hWait => f.write_str("retry B2H_WAIT"),
            LogMsg::RestartCommand => f.write_str("restart command"),
            LogMsg::BadMsgLen2005(n) => write!(f, "BT results: bad msg_len = {n}"),
            LogMsg::SeqMismatch2005 => f.write_str("BT: internal error: sequence mismatch"),
            LogMsg::ReadIndexWrapped => f.write_str(
                "[bmcwd model] response length 255 with an 8-bit read index: the kernel loops here forever (B-11)",
            ),
            LogMsg::Text(t) => f.write_str(t.as_str()),
        }
    }
}

/// Receives the state machine's log records.
pub trait LogSink {
    /// Called once per kernel `printk`/`dev_*`/`pr_cont` call, in order.
    fn log(&mut self, rec: &LogRecord);
}

/// Any closure taking a record is a sink: `&mut |r: &LogRecord| println!("{r}")`.
impl<F: FnMut(&LogRecord)> LogSink for F {
    fn log(&mut self, rec: &LogRecord) {
        self(rec)
    }
}

/// Discards everything (the cheapest sink).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NullLog;

impl LogSink for NullLog {
    fn log(&mut self, _rec: &LogRecord) {}
}

/// Collects each record's text as its own `String` (one per kernel call).
impl LogSink for Vec<String> {
    fn log(&mut self, rec: &LogRecord) {
        self.push(rec.to_string());
    }
}

/// Collects the records themselves.
impl LogSink for Vec<LogRecord> {
    fn log(&mut self, rec: &LogRecord) {
        self.push(*rec);
    }
}

/// Adapts a closure `FnMut(&LogRecord)` into a named sink type (closures are also
/// sinks directly).
pub struct FnSink<F>(pub F);

impl<F: FnMut(&LogRecord)> LogSink for FnSink<F> {
    fn log(&mut self, rec: &LogRecord) {
        (self.0)(rec)
    }
}

/// One complete log line as `dmesg` shows it (head plus continuations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Level of the line's first record.
    pub level: Level,
    /// The joined text.
    pub text: String,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Sink adapter that joins records into whole lines the way the kernel's printk
/// of the chosen [`PrintkEra`] does (open-ended head + `pr_cont` continuations;
/// a `dev_*` call always ends its line, see [`LogRecord::ends_line`]).
#[derive(Debug, Clone)]
pub struct LineAssembler {
    era: PrintkEra,
    pending: Option<LogLine>,
    lines: Vec<LogLine>,
}

impl LineAssembler {
    /// New assembler for a printk era.
    pub fn new(era: PrintkEra) -> Self {
        Self {
            era,
            pending: None,
            lines: Vec::new(),
        }
    }

    /// Complete lines so far (an open line is not included until it ends or
    /// [`flush`](Self::flush) is called).
    pub fn lines(&self) -> &[LogLine] {
        &self.lines
    }

    /// Takes the complete lines collected so far.
    pub fn take_lines(&mut self) -> Vec<LogLine> {
        core::mem::take(&mut self.lines)
    }

    /// The open (unterminated) line, if any.
    pub fn pending(&self) -> Option<&LogLine> {
        self.pending.as_ref()
    }

    /// Terminates an open line (as the next levelled printk would).
    pub fn flush(&mut self) {
        if let Some(l) = self.pending.take() {
            self.lines.push(l);
        }
    }
}

impl LogSink for LineAssembler {
    fn log(&mut self, rec: &LogRecord) {
        use core::fmt::Write as _;
        let join = self.pending.is_some() && self.era.continues(rec);
        if !join {
            self.flush();
        }
        let line = self.pending.get_or_insert_with(|| LogLine {
            level: rec.level,
            text: String::new(),
        });
        let _ = write!(line.text, "{rec}");
        if rec.ends_line() {
            self.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(msg: LogMsg, style: LogStyle, cont: bool) -> LogRecord {
        LogRecord {
            level: Level::Warning,
            msg,
            style,
            cont,
            bare: cont && style != LogStyle::Dev,
        }
    }

    #[test]
    fn closures_and_vectors_are_sinks() {
        fn feed<L: LogSink + ?Sized>(l: &mut L) {
            l.log(&rec(LogMsg::Stuck, LogStyle::Dev, false));
        }
        let mut n = 0;
        feed(&mut |r: &LogRecord| {
            assert_eq!(r.msg, LogMsg::Stuck);
            n += 1;
        });
        assert_eq!(n, 1);
        let mut v: Vec<String> = Vec::new();
        feed(&mut v);
        assert_eq!(v, ["stuck, try power cycle"]);
        let mut f = FnSink(|_: &LogRecord| n += 1);
        feed(&mut f);
        assert_eq!(n, 2);
    }

    #[test]
    fn status_text_matches_status2txt() {
        assert_eq!(StatusText(0).to_string(), "[ ]");
        assert_eq!(StatusText(0x03).to_string(), "[ ]");
        assert_eq!(StatusText(0x84).to_string(), "[ B_BUSY H2B ]");
        assert_eq!(
            StatusText(0xFF).to_string(),
            "[ B_BUSY H_BUSY OEM0 SMS B2H H2B ]"
        );
    }

    #[test]
    fn texts_per_style() {
        let head = LogMsg::ErrorRecovery {
            reason: Reason::Timeout,
            state: State::ReadWait,
            status: 0,
        };
        assert_eq!(
            rec(head, LogStyle::Printk, false).to_string(),
            "IPMI BT: timeout in RD_WAIT [ ] "
        );
        assert_eq!(
            rec(head, LogStyle::Dev, false).to_string(),
            "IPMI BT: timeout in RD_WAIT [ ] "
        );
        assert_eq!(
            rec(head, LogStyle::Printk2005, false).to_string(),
            "BT: timed out in RD_WAIT [ ] "
        );
        assert_eq!(
            rec(LogMsg::Reset, LogStyle::Printk, false).to_string(),
            "IPMI: BT reset (takes 5 secs)"
        );
        assert_eq!(
            rec(LogMsg::Reset, LogStyle::Dev, false).to_string(),
            "BT reset (takes 5 secs)"
        );
        assert_eq!(
            rec(LogMsg::Stuck, LogStyle::Printk2005, false).to_string(),
            "IPMI: BT stuck, try power cycle"
        );
        assert_eq!(
            rec(LogMsg::CapsError(0xc1), LogStyle::Dev, false).to_string(),
            "Error fetching bt cap: c1"
        );
        let sc = LogMsg::StateChange {
            state: State::Idle,
            status: 0x80,
            timeout: 5,
            time: 10,
        };
        assert_eq!(
            rec(sc, LogStyle::Printk, false).to_string(),
            "BT: IDLE [ B_BUSY ] TO=5 - 10 "
        );
        assert_eq!(
            rec(sc, LogStyle::Dev, false).to_string(),
            "BT: IDLE [ B_BUSY ] TO=5 - 10"
        );
    }

    #[test]
    fn assembler_joins_per_era() {
        let head = LogMsg::ErrorRecovery {
            reason: Reason::Timeout,
            state: State::ReadWait,
            status: 1,
        };
        for (era, expect) in [
            (
                PrintkEra::Pre2_6_31,
                vec!["IPMI BT: timeout in RD_WAIT [ ] failed 2 retries, sending error response"],
            ),
            (
                PrintkEra::Modern,
                vec![
                    "IPMI BT: timeout in RD_WAIT [ ] ",
                    "failed 2 retries, sending error response",
                ],
            ),
        ] {
            let mut a = LineAssembler::new(era);
            a.log(&rec(head, LogStyle::Printk, false));
            assert!(a.lines().is_empty());
            a.log(&rec(LogMsg::Failed { retries: 2 }, LogStyle::Printk, false));
            let got: Vec<_> = a.lines().iter().map(|l| l.text.clone()).collect();
            assert_eq!(got, expect);
        }
        let mut a = LineAssembler::new(PrintkEra::Modern);
        a.log(&rec(head, LogStyle::Printk, false));
        a.log(&rec(LogMsg::RetriesLeft(1), LogStyle::Printk, true));
        assert_eq!(
            a.lines()[0].text,
            "IPMI BT: timeout in RD_WAIT [ ] 1 retries left"
        );
    }

    /// A `dev_*` head is a whole line (printk's `dev_info` => `LOG_NEWLINE`): the
    /// `pr_cont` after it starts a line of its own, in every era, and later
    /// `pr_cont`s join that one.
    #[test]
    fn dev_head_ends_its_line() {
        let head = LogMsg::ErrorRecovery {
            reason: Reason::Timeout,
            state: State::WriteConsume,
            status: 0x80,
        };
        let h = rec(head, LogStyle::Dev, false);
        assert!(h.is_dev_call() && h.ends_line() && !h.msg.ends_line());
        let left = rec(LogMsg::RetriesLeft(1), LogStyle::Dev, true);
        assert!(!left.is_dev_call() && !left.bare);
        assert!(!rec(head, LogStyle::Printk, false).ends_line());
        for era in [PrintkEra::Pre2_6_31, PrintkEra::Modern, PrintkEra::KernCont] {
            let mut a = LineAssembler::new(era);
            a.log(&h);
            assert!(a.pending().is_none(), "{era:?}");
            a.log(&left);
            let got: Vec<_> = a.lines().iter().map(|l| l.text.as_str()).collect();
            assert_eq!(
                got,
                [
                    "IPMI BT: timeout in WR_CONSUME [ B_BUSY ] ",
                    "1 retries left"
                ],
                "{era:?}"
            );
        }
        // dev_dbg("write %d bytes seq=0x%02X") + pr_cont(" %02x")… + pr_cont("\n").
        let mut a = LineAssembler::new(PrintkEra::KernCont);
        a.log(&rec(
            LogMsg::Write { count: 4, seq: 1 },
            LogStyle::Dev,
            false,
        ));
        for b in [0x03, 0x18, 0x01] {
            a.log(&rec(LogMsg::HexByte(b), LogStyle::Dev, true));
        }
        a.log(&rec(LogMsg::LineEnd, LogStyle::Dev, true));
        let got: Vec<_> = a.lines().iter().map(|l| l.text.as_str()).collect();
        assert_eq!(got, ["write 4 bytes seq=0x01", " 03 18 01"]);
    }
}
