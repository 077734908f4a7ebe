//! Faults the VM server injects on the VM-protocol link, switchable at run
//! time, so a real guest kernel's BT driver meets them through QEMU.
//!
//! What each one looks like from the guest, with QEMU's `isa-ipmi-bt` +
//! `ipmi-bmc-extern` (QEMU `hw/ipmi/ipmi_bt.c` `ipmi_bt_handle_rsp`,
//! `hw/ipmi/ipmi_bmc_extern.c` `handle_msg`/`extern_timeout`;
//! `spec-notes/real-kernel-lab.md` §7):
//!
//! | fault | on the wire | guest sees |
//! |---|---|---|
//! | `silent` | no answer | QEMU's own 4 s timer answers 0xC3; no kernel line |
//! | `bad-checksum` | answer with a wrong checksum | QEMU drops it; 0xC3 after 4 s |
//! | `wrong-cmd` | right msg_id, cmd ^ 0x80 | kernel "bad packet" → RD_WAIT timeout, 0xC3 after the BT timeout |
//! | `wrong-msgid` | full answer, msg_id + 1 | QEMU cancels its timer and drops it; B_BUSY stays set → WR_CONSUME timeout, 0xC0, LONG_BUSY |
//! | `stuck` | a 4-byte dummy answer for another msg_id | same as `wrong-msgid` (B_BUSY stuck) |
//! | `delay=MS` | the right answer MS later | slow BMC (QEMU gives 0xC3 itself after 4 s) |
//! | `cc=XX` | right header, completion code XX, no data | the kernel passes XX up |
//! | `disconnect` | the server closes the link | 0xD2 at once until QEMU reconnects |
//! | `wrong-netfn` | right msg_id, the request's NetFn (response bit clear) | passes QEMU and the BT layer; the message handler answers 0xFF and logs `BMC returned incorrect response` |
//! | `stale` | the previous answer under this msg_id, the real one `hold` ms (1 s) later | QEMU writes the current seq into the first and drops the second: another command's answer → RD_WAIT timeout, 0xC3 after 10 s; the same command's → its old data, cc 0x00 at once |
//! | `attn` | the right answer, then `ATTN_IRQ` | the kernel asks Get Message Flags |
//!
//! For `wrong-msgid` and `stuck` the real answer is kept; switching the fault
//! back to `none` sends it late with the right msg_id, which lets QEMU clear
//! B_BUSY (what the lab did to recover a LONG_BUSY guest).
//!
//! Text form (control file, admin line, in-band command): the fault name,
//! then optional `count=N` (only the next N matching requests, then `none`),
//! `only=NF:CM` (hex netfn and cmd of the requests it applies to) and
//! `hold=MS` (send a held answer MS after the fault hit instead of waiting
//! for `none`), e.g. `wrong-cmd count=1 only=06:01`,
//! `wrong-msgid count=1 hold=15000`.
//!
//! # Relation to the BMC core's fault vocabulary
//!
//! The register-level faults of the BMC core ([`crate::bmc::fault::Fault`],
//! named as in scenario files) and these message-level faults meet where
//! the guest sees the same thing; [`VmFault::bmc_equivalent`] names the BMC
//! fault for each of them:
//!
//! | VM fault | BMC fault | same observable behaviour |
//! |---|---|---|
//! | `silent` | `silent` | no answer ever comes |
//! | `delay=MS` | `slow` (`latency`) | the right answer, late |
//! | `cc=XX` | `error-response` (`cc`) | an answer with that completion code and no data |
//! | `wrong-msgid`, `stuck` | `hold-busy` | B_BUSY stays set, the host times out in WR_CONSUME |
//! | `stale` | `stale-response` (`correct_after` 1 s) | the previous answer, then the right one (dropped by QEMU) |
//! | `attn` | `raise-attn` (`irq`) | SMS_ATN with the interrupt |
//!
//! `wrong-cmd` and `wrong-netfn` are `rewrite-response` with `cmd` = the
//! request's cmd ^ 0x80 and `netfn` = the request's NetFn, and `disconnect` is
//! `link-drop` behind the `qemu-extern` preset, which the rig's model files use;
//! they name request-dependent values, so they have no fixed equivalent here.
//!
//! `bad-checksum` (QEMU drops the answer: `silent` behind `qemu-extern`)
//! shapes the message, which has no register-level equivalent. The
//! text form keeps its own spelling (`delay=MS`, `cc=XX`): it is the control
//! file syntax of the QEMU rig (`tests/vm/`).

use core::fmt;
use core::str::FromStr;
use core::time::Duration;
use std::sync::{Arc, Mutex};

use ipmi_bt_sm::CompletionCode;

use crate::bmc::fault::Fault;

/// One VM-level fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VmFault {
    /// Answer normally.
    #[default]
    None,
    /// Never answer.
    Silent,
    /// Answer with a checksum that does not sum to zero.
    BadChecksum,
    /// Answer with the right msg_id but `cmd ^ 0x80`.
    WrongCmd,
    /// Answer in full but with `msg_id + 1`; keep the real answer.
    WrongMsgId,
    /// Send only a dummy answer for another msg_id (cancels QEMU's timer so
    /// B_BUSY stays set); keep the real answer.
    Stuck,
    /// Answer after this long.
    Delay(Duration),
    /// Answer with this completion code and no data.
    Cc(CompletionCode),
    /// Close the connection when the next matching request arrives.
    Disconnect,
    /// Answer with the request's own NetFn (response bit clear): QEMU and
    /// Linux's BT layer pass it, the message handler answers 0xFF.
    WrongNetFn,
    /// Answer first with the previous answer sent (its NetFn, cmd and data)
    /// under this msg_id, then the real one `hold` ms later (default 1 s).
    Stale,
    /// Answer normally, then raise ATTN (`ATTN_IRQ` with the interrupt on).
    Attn,
}

impl VmFault {
    /// The BMC core's fault with the same observable behaviour, where there
    /// is one (see the module doc's table); `None` for `none` and for the
    /// message- and link-level faults.
    pub fn bmc_equivalent(&self) -> Option<Fault> {
        match *self {
            Self::Silent => Some(Fault::Silent),
            Self::Delay(latency) => Some(Fault::Slow { latency }),
            Self::Cc(cc) => Some(Fault::ErrorResponse { cc: cc.0 }),
            Self::WrongMsgId | Self::Stuck => Some(Fault::HoldBusy),
            Self::Stale => Some(Fault::StaleResponse {
                correct_after: Some(Duration::from_secs(1)),
            }),
            Self::Attn => Some(Fault::RaiseAttn { irq: true }),
            Self::None
            | Self::BadChecksum
            | Self::WrongCmd
            | Self::WrongNetFn
            | Self::Disconnect => None,
        }
    }
}

impl fmt::Display for VmFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Silent => f.write_str("silent"),
            Self::BadChecksum => f.write_str("bad-checksum"),
            Self::WrongCmd => f.write_str("wrong-cmd"),
            Self::WrongMsgId => f.write_str("wrong-msgid"),
            Self::Stuck => f.write_str("stuck"),
            Self::Delay(d) => write!(f, "delay={}", d.as_millis()),
            Self::Cc(cc) => write!(f, "cc={:02x}", cc.0),
            Self::Disconnect => f.write_str("disconnect"),
            Self::WrongNetFn => f.write_str("wrong-netfn"),
            Self::Stale => f.write_str("stale"),
            Self::Attn => f.write_str("attn"),
        }
    }
}

/// A fault with its scope: how many requests, which command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VmFaultSpec {
    /// What to do to a matching request's answer.
    pub fault: VmFault,
    /// Apply to this many matching requests, then revert to `none`;
    /// `None` = until changed.
    pub count: Option<u32>,
    /// Apply only to requests with this `(netfn, cmd)`; `None` = all.
    pub only: Option<(u8, u8)>,
    /// For `wrong-msgid` / `stuck`: send the held real answer this long
    /// after the fault hit; `None` = when the fault is next set to `none`.
    pub hold: Option<Duration>,
}

impl VmFaultSpec {
    /// No fault.
    pub const NONE: Self = Self {
        fault: VmFault::None,
        count: None,
        only: None,
        hold: None,
    };

    /// Whether this spec applies to a request with `netfn` and `cmd`.
    pub fn matches(&self, netfn: u8, cmd: u8) -> bool {
        self.fault != VmFault::None
            && self.count != Some(0)
            && self.only.is_none_or(|(n, c)| n == netfn && c == cmd)
    }
}

impl fmt::Display for VmFaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.fault)?;
        if let Some(n) = self.count {
            write!(f, " count={n}")?;
        }
        if let Some((n, c)) = self.only {
            write!(f, " only={n:02x}:{c:02x}")?;
        }
        if let Some(h) = self.hold {
            write!(f, " hold={}", h.as_millis())?;
        }
        Ok(())
    }
}

/// Why a fault text did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultParseError(pub String);

impl fmt::Display for FaultParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}; expected one of none, silent, bad-checksum, wrong-cmd, wrong-msgid, stuck, \
             delay=MS, cc=HEX, disconnect, optionally followed by count=N, only=NETFN:CMD (hex) and hold=MS \
             (MS at most 86400000, one day)",
            self.0
        )
    }
}

impl std::error::Error for FaultParseError {}

/// Longest `delay=` / `hold=` accepted: one day, in milliseconds. Longer
/// is never what a test means, and it keeps every deadline representable.
pub(super) const MAX_FAULT_MS: u64 = 86_400_000;

/// `MS` of `delay=MS` / `hold=MS`, at most [`MAX_FAULT_MS`].
fn parse_ms(ms: &str) -> Option<Duration> {
    ms.parse::<u64>()
        .ok()
        .filter(|&v| v <= MAX_FAULT_MS)
        .map(Duration::from_millis)
}

fn parse_hex(s: &str) -> Option<u8> {
    let s = s.trim_start_matches("0x").trim_start_matches("0X");
    u8::from_str_radix(s, 16).ok()
}

impl FromStr for VmFaultSpec {
    type Err = FaultParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut words = s.split_whitespace();
        let Some(first) = words.next() else {
            return Ok(Self::NONE);
        };
        let bad = |what: &str| FaultParseError(format!("bad fault {what:?}"));
        let fault = match first {
            "none" | "normal" | "ok" => VmFault::None,
            "silent" => VmFault::Silent,
            "bad-checksum" => VmFault::BadChecksum,
            "wrong-cmd" => VmFault::WrongCmd,
            "wrong-msgid" => VmFault::WrongMsgId,
            "stuck" => VmFault::Stuck,
            "disconnect" => VmFault::Disconnect,
            "wrong-netfn" => VmFault::WrongNetFn,
            "stale" => VmFault::Stale,
            "attn" => VmFault::Attn,
            w => match w.split_once('=') {
                Some(("delay", ms)) => VmFault::Delay(parse_ms(ms).ok_or_else(|| bad(w))?),
                Some(("cc", cc)) => {
                    VmFault::Cc(CompletionCode(parse_hex(cc).ok_or_else(|| bad(w))?))
                }
                _ => return Err(bad(w)),
            },
        };
        let mut spec = Self {
            fault,
            ..Self::NONE
        };
        for w in words {
            match w.split_once('=') {
                Some(("count", n)) => spec.count = Some(n.parse().map_err(|_| bad(w))?),
                Some(("hold", ms)) => spec.hold = Some(parse_ms(ms).ok_or_else(|| bad(w))?),
                Some(("only", nc)) => {
                    let (n, c) = nc.split_once(':').ok_or_else(|| bad(w))?;
                    spec.only = Some((
                        parse_hex(n).ok_or_else(|| bad(w))?,
                        parse_hex(c).ok_or_else(|| bad(w))?,
                    ));
                }
                _ => return Err(bad(w)),
            }
        }
        Ok(spec)
    }
}

#[derive(Debug, Default)]
struct Shared {
    spec: VmFaultSpec,
    /// Bumped by every [`FaultControl::set`], so the server can tell an
    /// explicit change from a count running out.
    generation: u64,
}

/// Shared, run-time switchable fault setting: the server reads it for every
/// request; a test (control file watcher, admin socket, in-band command, or
/// code holding a clone) changes it.
#[derive(Debug, Clone, Default)]
pub struct FaultControl {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    shared: Mutex<Shared>,
    /// Wakes servers waiting in [`FaultControl::changed`].
    #[cfg(feature = "server")]
    notify: tokio::sync::Notify,
}

impl FaultControl {
    /// A control set to no fault.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current setting.
    pub fn get(&self) -> VmFaultSpec {
        self.lock().spec
    }

    /// The number of [`set`](Self::set) calls so far.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.inner.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the setting and wakes the server (which sends a held late
    /// answer when the new fault is `none`). A connection that is not woken
    /// sees the change the next time it is fed bytes or time.
    pub fn set(&self, spec: VmFaultSpec) {
        {
            let mut g = self.lock();
            g.spec = spec;
            g.generation += 1;
        }
        #[cfg(feature = "server")]
        self.inner.notify.notify_waiters();
    }

    /// Decides the fault for one request and counts it down. Returns the
    /// spec that applied (its `fault` is `None` when nothing applies).
    pub fn take_for(&self, netfn: u8, cmd: u8) -> VmFaultSpec {
        let mut g = self.lock();
        if !g.spec.matches(netfn, cmd) {
            return VmFaultSpec::NONE;
        }
        let applied = g.spec;
        if let Some(n) = g.spec.count.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                g.spec = VmFaultSpec::NONE;
            }
        }
        applied
    }

    /// Resolves when [`set`](Self::set) is next called.
    #[cfg(feature = "server")]
    pub async fn changed(&self) {
        self.inner.notify.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_roundtrip() {
        for text in [
            "none",
            "silent",
            "bad-checksum",
            "wrong-cmd count=1 only=06:01",
            "wrong-msgid",
            "stuck count=3",
            "wrong-msgid count=1 only=06:01 hold=15000",
            "delay=1500",
            "cc=c0 only=06:25",
            "disconnect",
            "wrong-netfn count=1 only=06:25",
            "stale count=1 only=06:25 hold=1000",
            "attn count=1",
        ] {
            let spec: VmFaultSpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
        }
        assert_eq!("".parse::<VmFaultSpec>(), Ok(VmFaultSpec::NONE));
        assert_eq!("normal".parse::<VmFaultSpec>(), Ok(VmFaultSpec::NONE));
        assert_eq!(
            "cc=0xC3".parse::<VmFaultSpec>().map(|s| s.fault),
            Ok(VmFault::Cc(CompletionCode::TIMEOUT))
        );
    }

    #[test]
    fn parse_errors_say_what_is_accepted() {
        for bad in [
            "bogus",
            "delay=x",
            "cc=zz",
            "silent count=-1",
            "silent only=6",
            "silent x=1",
            "delay=86400001",
            "delay=18446744073709551615",
            "delay=99999999999999999999999",
            "wrong-msgid hold=86400001",
            "cc=100",
            "silent only=06:100",
            "silent count=4294967296",
        ] {
            let e = bad.parse::<VmFaultSpec>().unwrap_err();
            assert!(
                e.to_string().contains("expected one of none, silent"),
                "{e}"
            );
        }
    }

    #[test]
    fn shared_faults_map_to_the_bmc_vocabulary() {
        let bmc = |t: &str| {
            t.parse::<VmFaultSpec>()
                .ok()
                .and_then(|s| s.fault.bmc_equivalent())
        };
        assert_eq!(bmc("silent").map(|f| f.kind().name()), Some("silent"));
        assert_eq!(
            bmc("delay=1500").map(|f| f.to_string()).as_deref(),
            Some("slow(latency=1.5s)")
        );
        assert_eq!(
            bmc("cc=c0").map(|f| f.to_string()).as_deref(),
            Some("error-response(cc=0xc0)")
        );
        assert_eq!(bmc("stuck").map(|f| f.kind().name()), Some("hold-busy"));
        assert_eq!(bmc("wrong-cmd"), None);
    }

    #[test]
    fn count_and_filter() {
        let c = FaultControl::new();
        c.set("wrong-cmd count=2 only=06:01".parse().unwrap());
        assert_eq!(c.take_for(0x06, 0x25).fault, VmFault::None);
        assert_eq!(c.take_for(0x06, 0x01).fault, VmFault::WrongCmd);
        assert_eq!(c.take_for(0x06, 0x01).fault, VmFault::WrongCmd);
        assert_eq!(c.take_for(0x06, 0x01).fault, VmFault::None);
        assert_eq!(c.get(), VmFaultSpec::NONE);
        assert_eq!(c.generation(), 1, "a count running out is not a set()");
        c.set("silent".parse().unwrap());
        for _ in 0..5 {
            assert_eq!(c.take_for(0x0A, 0x40).fault, VmFault::Silent);
        }
    }
}
