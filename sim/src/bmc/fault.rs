//! Fault injection: what can go wrong with a BMC, and when.
//!
//! A [`Fault`] is one misbehaviour (bmc-watchdog.md §5 lists how each looks at
//! register level). A [`FaultPlan`] schedules faults on or off at a virtual
//! time or at the host's Nth request ([`Trigger`]). Everything is
//! deterministic: the only random fault ([`Fault::RandomLoss`]) draws from the
//! simulator's seeded [`SplitMix64`](crate::rng::SplitMix64).
//!
//! Several faults can be active at once; [`ActiveFaults`] is the current set.
//! Starting a fault that is already active replaces its parameters.

use core::fmt;
use core::time::Duration;

use ipmi_vocab::Instant;

/// One BMC misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The BMC takes each request (clears H2B_ATN) and then drops it: B_BUSY
    /// clears, no response ever comes, the command is not executed. Host view:
    /// BT_CTRL reads 0x00 while waiting (kernel-bt.md §13 T3).
    Silent,
    /// B_BUSY reads 1 and the BMC takes no request (firmware update, daemon
    /// gone: bt-bmc `bt_bmc_release` sets B_BUSY). kernel-bt.md §13 T4.
    StuckBBusy,
    /// The BMC never notices H2B_ATN: the bit stays set, nothing is taken.
    NeverClearH2bAtn,
    /// The BMC takes each request (H2B_ATN cleared, B_BUSY set) and hangs
    /// with B_BUSY set until the fault ends; then the request is dropped and
    /// B_BUSY clears. Like QEMU's extern BMC answering with a wrong msg id
    /// (bmc-watchdog.md §5): the host times out in WRITE_CONSUME, not in
    /// XACTION_START as with [`Fault::StuckBBusy`].
    HangAfterTake,
    /// Responses are posted `latency` after the request is taken (instead of
    /// the configured response latency).
    SlowResponse {
        /// Processing time per request.
        latency: Duration,
    },
    /// Requests are executed but their responses are never posted; `count`
    /// responses are lost, then the fault ends by itself (`None`: forever).
    LoseResponses {
        /// How many responses to lose.
        count: Option<u32>,
    },
    /// Each response is lost with probability `per_mille`/1000 (seeded).
    RandomLoss {
        /// Loss probability in thousandths.
        per_mille: u16,
    },
    /// The response carries seq + `seq_delta` (mod 256; 0xFF is "seq − 1").
    /// With `correct_after`, the correct response follows that long after
    /// the wrong one was posted (kernel-bt.md §13 T6).
    WrongSeq {
        /// Added to the request's seq.
        seq_delta: u8,
        /// Delay before the correct response, if any.
        correct_after: Option<Duration>,
    },
    /// Instead of the response, the previous transaction's response is posted
    /// again (stale data); with `correct_after`, the right one follows.
    StaleResponse {
        /// Delay before the correct response, if any.
        correct_after: Option<Duration>,
    },
    /// Every response is posted twice: once normally, then again as soon as
    /// the host has consumed the first copy.
    DuplicateResponse,
    /// The response's length byte is replaced by `len` (the rest unchanged).
    /// `len < 4` makes Linux report 0xC6 (kernel-bt.md §13 T7).
    CorruptLength {
        /// The length byte to post.
        len: u8,
    },
    /// B2H_ATN reads 1 and host writes to clear it are ignored
    /// (kernel-bt.md §13 T11, bug B-8).
    B2hAtnStuck,
    /// Every register reads 0xFF and writes are ignored: the device is gone
    /// (LPC decode off; bmc-watchdog.md §5 first row).
    RegistersFF,
    /// Instantaneous: the BMC reboots. The interface is cleared, pending work
    /// is lost and B_BUSY is held for the configured boot time. With
    /// `keep_watchdog` the watchdog keeps its configuration and keeps running
    /// (a BMC whose watchdog lives in hardware); otherwise it is lost and the
    /// next Reset Watchdog returns 0x80.
    BmcReset {
        /// Whether the watchdog survives the reset.
        keep_watchdog: bool,
    },
    /// Instantaneous: every active fault ends; the BMC is healthy again.
    Reconnect,
    /// Requests with this NetFn (request NetFn, without LUN) and command are
    /// taken and dropped like [`Fault::Silent`]; others are answered.
    IgnoreCommand {
        /// Request NetFn (e.g. 0x06 App).
        netfn: u8,
        /// Command (e.g. 0x36 Get BT Interface Capabilities).
        cmd: u8,
    },
    /// Every request is answered with completion code `cc` and no data,
    /// without executing it (e.g. 0xC0 Node Busy or 0xD2 "initialization in
    /// progress" while a BMC boots).
    ErrorResponse {
        /// Completion code to return.
        cc: u8,
    },
}

/// Which fault, without its parameters (used to stop one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)] // one variant per `Fault` variant, same names
pub enum FaultKind {
    Silent,
    StuckBBusy,
    NeverClearH2bAtn,
    HangAfterTake,
    SlowResponse,
    LoseResponses,
    RandomLoss,
    WrongSeq,
    StaleResponse,
    DuplicateResponse,
    CorruptLength,
    B2hAtnStuck,
    RegistersFF,
    BmcReset,
    Reconnect,
    IgnoreCommand,
    ErrorResponse,
}

impl FaultKind {
    /// Every kind, in declaration order.
    pub const ALL: [FaultKind; 17] = [
        FaultKind::Silent,
        FaultKind::StuckBBusy,
        FaultKind::NeverClearH2bAtn,
        FaultKind::HangAfterTake,
        FaultKind::SlowResponse,
        FaultKind::LoseResponses,
        FaultKind::RandomLoss,
        FaultKind::WrongSeq,
        FaultKind::StaleResponse,
        FaultKind::DuplicateResponse,
        FaultKind::CorruptLength,
        FaultKind::B2hAtnStuck,
        FaultKind::RegistersFF,
        FaultKind::BmcReset,
        FaultKind::Reconnect,
        FaultKind::IgnoreCommand,
        FaultKind::ErrorResponse,
    ];

    /// snake_case name, as used in scenario files and traces.
    pub const fn name(self) -> &'static str {
        match self {
            FaultKind::Silent => "silent",
            FaultKind::StuckBBusy => "stuck_b_busy",
            FaultKind::NeverClearH2bAtn => "never_clear_h2b_atn",
            FaultKind::HangAfterTake => "hang_after_take",
            FaultKind::SlowResponse => "slow_response",
            FaultKind::LoseResponses => "lose_responses",
            FaultKind::RandomLoss => "random_loss",
            FaultKind::WrongSeq => "wrong_seq",
            FaultKind::StaleResponse => "stale_response",
            FaultKind::DuplicateResponse => "duplicate_response",
            FaultKind::CorruptLength => "corrupt_length",
            FaultKind::B2hAtnStuck => "b2h_atn_stuck",
            FaultKind::RegistersFF => "registers_ff",
            FaultKind::BmcReset => "bmc_reset",
            FaultKind::Reconnect => "reconnect",
            FaultKind::IgnoreCommand => "ignore_command",
            FaultKind::ErrorResponse => "error_response",
        }
    }

    /// The kind named `name` (see [`name`](Self::name)).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// True for faults that happen once instead of staying on.
    pub const fn is_instant(self) -> bool {
        matches!(self, FaultKind::BmcReset | FaultKind::Reconnect)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Fault {
    /// The kind of this fault.
    pub const fn kind(&self) -> FaultKind {
        match self {
            Fault::Silent => FaultKind::Silent,
            Fault::StuckBBusy => FaultKind::StuckBBusy,
            Fault::NeverClearH2bAtn => FaultKind::NeverClearH2bAtn,
            Fault::HangAfterTake => FaultKind::HangAfterTake,
            Fault::SlowResponse { .. } => FaultKind::SlowResponse,
            Fault::LoseResponses { .. } => FaultKind::LoseResponses,
            Fault::RandomLoss { .. } => FaultKind::RandomLoss,
            Fault::WrongSeq { .. } => FaultKind::WrongSeq,
            Fault::StaleResponse { .. } => FaultKind::StaleResponse,
            Fault::DuplicateResponse => FaultKind::DuplicateResponse,
            Fault::CorruptLength { .. } => FaultKind::CorruptLength,
            Fault::B2hAtnStuck => FaultKind::B2hAtnStuck,
            Fault::RegistersFF => FaultKind::RegistersFF,
            Fault::BmcReset { .. } => FaultKind::BmcReset,
            Fault::Reconnect => FaultKind::Reconnect,
            Fault::IgnoreCommand { .. } => FaultKind::IgnoreCommand,
            Fault::ErrorResponse { .. } => FaultKind::ErrorResponse,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Fault::SlowResponse { latency } => write!(f, "slow_response(latency={latency:?})"),
            Fault::LoseResponses { count: Some(n) } => write!(f, "lose_responses(count={n})"),
            Fault::LoseResponses { count: None } => f.write_str("lose_responses(count=all)"),
            Fault::RandomLoss { per_mille } => write!(f, "random_loss({per_mille}/1000)"),
            Fault::WrongSeq {
                seq_delta,
                correct_after,
            } => {
                write!(
                    f,
                    "wrong_seq(delta={seq_delta:#04x}, correct_after={correct_after:?})"
                )
            }
            Fault::StaleResponse { correct_after } => {
                write!(f, "stale_response(correct_after={correct_after:?})")
            }
            Fault::CorruptLength { len } => write!(f, "corrupt_length(len={len})"),
            Fault::BmcReset { keep_watchdog } => {
                write!(f, "bmc_reset(keep_watchdog={keep_watchdog})")
            }
            Fault::IgnoreCommand { netfn, cmd } => {
                write!(f, "ignore_command(netfn={netfn:#04x}, cmd={cmd:#04x})")
            }
            Fault::ErrorResponse { cc } => write!(f, "error_response(cc={cc:#04x})"),
            _ => f.write_str(self.kind().name()),
        }
    }
}

/// When a [`FaultEntry`] fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// At this virtual time (entries due at the same time fire in plan order).
    At(Instant),
    /// When the host hands the BMC its Nth message since the simulation
    /// started (1-based: `AtCommand(1)` is the first), i.e. when the host sets
    /// H2B_ATN for it, before the BMC takes it — so the fault already applies
    /// to message N. Resends after a timeout and the BT soft reset count;
    /// requests the host driver refuses without writing them never reach the
    /// BMC and do not. Counted by [`SimBmc::commands_seen`](crate::bmc::SimBmc::commands_seen).
    AtCommand(u64),
}

/// What a [`FaultEntry`] does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultAction {
    /// Start the fault (instant faults just happen).
    Start(Fault),
    /// Start the fault and stop it again after the duration.
    StartFor(Fault, Duration),
    /// Stop every active fault of this kind.
    Stop(FaultKind),
}

/// One scheduled fault change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaultEntry {
    /// When it fires.
    pub trigger: Trigger,
    /// What it does.
    pub action: FaultAction,
}

/// A schedule of fault changes; order matters only between entries with the
/// same trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// The entries, in any order.
    pub entries: Vec<FaultEntry>,
}

impl FaultPlan {
    /// An empty plan (a healthy BMC).
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder: add an entry.
    pub fn with(mut self, trigger: Trigger, action: FaultAction) -> Self {
        self.entries.push(FaultEntry { trigger, action });
        self
    }

    /// Builder: start `fault` at time `t`.
    pub fn start_at(self, t: Instant, fault: Fault) -> Self {
        self.with(Trigger::At(t), FaultAction::Start(fault))
    }

    /// Builder: stop faults of `kind` at time `t`.
    pub fn stop_at(self, t: Instant, kind: FaultKind) -> Self {
        self.with(Trigger::At(t), FaultAction::Stop(kind))
    }

    /// Builder: start `fault` when the host submits request `n` (1-based).
    pub fn start_at_command(self, n: u64, fault: Fault) -> Self {
        self.with(Trigger::AtCommand(n), FaultAction::Start(fault))
    }
}

/// Maximum number of distinct (netfn, cmd) pairs [`Fault::IgnoreCommand`] can
/// hold at once; starting more replaces the oldest.
pub const MAX_IGNORED_COMMANDS: usize = 8;

/// The set of currently active (non-instant) faults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActiveFaults {
    /// [`Fault::Silent`].
    pub silent: bool,
    /// [`Fault::StuckBBusy`].
    pub stuck_b_busy: bool,
    /// [`Fault::NeverClearH2bAtn`].
    pub never_clear_h2b_atn: bool,
    /// [`Fault::HangAfterTake`].
    pub hang_after_take: bool,
    /// [`Fault::SlowResponse`] latency.
    pub slow_response: Option<Duration>,
    /// [`Fault::LoseResponses`]: `Some(None)` loses all, `Some(Some(n))` n more.
    pub lose_responses: Option<Option<u32>>,
    /// [`Fault::RandomLoss`] probability (0 = off).
    pub random_loss_per_mille: u16,
    /// [`Fault::WrongSeq`] parameters.
    pub wrong_seq: Option<(u8, Option<Duration>)>,
    /// [`Fault::StaleResponse`] parameter.
    pub stale_response: Option<Option<Duration>>,
    /// [`Fault::DuplicateResponse`].
    pub duplicate_response: bool,
    /// [`Fault::CorruptLength`] length byte.
    pub corrupt_length: Option<u8>,
    /// [`Fault::B2hAtnStuck`].
    pub b2h_atn_stuck: bool,
    /// [`Fault::RegistersFF`].
    pub registers_ff: bool,
    /// [`Fault::IgnoreCommand`] (netfn, cmd) pairs.
    pub ignored: [Option<(u8, u8)>; MAX_IGNORED_COMMANDS],
    /// [`Fault::ErrorResponse`] completion code.
    pub error_response: Option<u8>,
}

impl ActiveFaults {
    /// True when no fault is active.
    pub fn is_healthy(&self) -> bool {
        *self == Self::default()
    }

    /// Turn `f` on. Instant faults ([`Fault::BmcReset`], [`Fault::Reconnect`])
    /// are not states and are ignored here; [`Fault::Reconnect`] is handled by
    /// the caller as [`clear_all`](Self::clear_all).
    pub fn start(&mut self, f: Fault) {
        match f {
            Fault::Silent => self.silent = true,
            Fault::StuckBBusy => self.stuck_b_busy = true,
            Fault::NeverClearH2bAtn => self.never_clear_h2b_atn = true,
            Fault::HangAfterTake => self.hang_after_take = true,
            Fault::SlowResponse { latency } => self.slow_response = Some(latency),
            Fault::LoseResponses { count } => self.lose_responses = Some(count),
            Fault::RandomLoss { per_mille } => self.random_loss_per_mille = per_mille.min(1000),
            Fault::WrongSeq {
                seq_delta,
                correct_after,
            } => self.wrong_seq = Some((seq_delta, correct_after)),
            Fault::StaleResponse { correct_after } => self.stale_response = Some(correct_after),
            Fault::DuplicateResponse => self.duplicate_response = true,
            Fault::CorruptLength { len } => self.corrupt_length = Some(len),
            Fault::B2hAtnStuck => self.b2h_atn_stuck = true,
            Fault::RegistersFF => self.registers_ff = true,
            Fault::IgnoreCommand { netfn, cmd } => {
                if !self.ignored.contains(&Some((netfn, cmd))) {
                    self.ignored.rotate_right(1);
                    self.ignored[0] = Some((netfn, cmd));
                }
            }
            Fault::ErrorResponse { cc } => self.error_response = Some(cc),
            Fault::BmcReset { .. } | Fault::Reconnect => {}
        }
    }

    /// Turn every fault of `kind` off. [`FaultKind::Reconnect`] clears all.
    pub fn stop(&mut self, kind: FaultKind) {
        match kind {
            FaultKind::Silent => self.silent = false,
            FaultKind::StuckBBusy => self.stuck_b_busy = false,
            FaultKind::NeverClearH2bAtn => self.never_clear_h2b_atn = false,
            FaultKind::HangAfterTake => self.hang_after_take = false,
            FaultKind::SlowResponse => self.slow_response = None,
            FaultKind::LoseResponses => self.lose_responses = None,
            FaultKind::RandomLoss => self.random_loss_per_mille = 0,
            FaultKind::WrongSeq => self.wrong_seq = None,
            FaultKind::StaleResponse => self.stale_response = None,
            FaultKind::DuplicateResponse => self.duplicate_response = false,
            FaultKind::CorruptLength => self.corrupt_length = None,
            FaultKind::B2hAtnStuck => self.b2h_atn_stuck = false,
            FaultKind::RegistersFF => self.registers_ff = false,
            FaultKind::IgnoreCommand => self.ignored = [None; MAX_IGNORED_COMMANDS],
            FaultKind::ErrorResponse => self.error_response = None,
            FaultKind::Reconnect => self.clear_all(),
            FaultKind::BmcReset => {}
        }
    }

    /// Every fault off.
    pub fn clear_all(&mut self) {
        *self = Self::default();
    }

    /// True if requests with this NetFn (no LUN) and command are ignored.
    pub fn ignores(&self, netfn: u8, cmd: u8) -> bool {
        self.ignored.contains(&Some((netfn, cmd)))
    }

    /// The kinds currently active, in [`FaultKind::ALL`] order.
    pub fn kinds(&self) -> impl Iterator<Item = FaultKind> + '_ {
        FaultKind::ALL
            .into_iter()
            .filter(move |k| self.is_active(*k))
    }

    /// True if a fault of `kind` is active.
    pub fn is_active(&self, kind: FaultKind) -> bool {
        match kind {
            FaultKind::Silent => self.silent,
            FaultKind::StuckBBusy => self.stuck_b_busy,
            FaultKind::NeverClearH2bAtn => self.never_clear_h2b_atn,
            FaultKind::HangAfterTake => self.hang_after_take,
            FaultKind::SlowResponse => self.slow_response.is_some(),
            FaultKind::LoseResponses => self.lose_responses.is_some(),
            FaultKind::RandomLoss => self.random_loss_per_mille > 0,
            FaultKind::WrongSeq => self.wrong_seq.is_some(),
            FaultKind::StaleResponse => self.stale_response.is_some(),
            FaultKind::DuplicateResponse => self.duplicate_response,
            FaultKind::CorruptLength => self.corrupt_length.is_some(),
            FaultKind::B2hAtnStuck => self.b2h_atn_stuck,
            FaultKind::RegistersFF => self.registers_ff,
            FaultKind::IgnoreCommand => self.ignored.iter().any(Option::is_some),
            FaultKind::ErrorResponse => self.error_response.is_some(),
            FaultKind::BmcReset | FaultKind::Reconnect => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_roundtrip_and_are_unique() {
        for k in FaultKind::ALL {
            assert_eq!(FaultKind::from_name(k.name()), Some(k));
        }
        let mut names: Vec<_> = FaultKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FaultKind::ALL.len());
        assert_eq!(FaultKind::from_name("nope"), None);
    }

    #[test]
    fn start_stop_each_kind() {
        let faults = [
            Fault::Silent,
            Fault::StuckBBusy,
            Fault::NeverClearH2bAtn,
            Fault::SlowResponse {
                latency: Duration::from_secs(1),
            },
            Fault::LoseResponses { count: Some(2) },
            Fault::RandomLoss { per_mille: 10 },
            Fault::WrongSeq {
                seq_delta: 0xFF,
                correct_after: None,
            },
            Fault::StaleResponse {
                correct_after: None,
            },
            Fault::DuplicateResponse,
            Fault::CorruptLength { len: 2 },
            Fault::B2hAtnStuck,
            Fault::RegistersFF,
            Fault::IgnoreCommand {
                netfn: 6,
                cmd: 0x36,
            },
            Fault::ErrorResponse { cc: 0xC0 },
        ];
        for f in faults {
            let mut a = ActiveFaults::default();
            a.start(f);
            assert!(a.is_active(f.kind()), "{f}");
            assert_eq!(a.kinds().collect::<Vec<_>>(), vec![f.kind()]);
            a.stop(f.kind());
            assert!(a.is_healthy(), "{f}");
        }
    }

    #[test]
    fn instant_faults_are_not_states_and_reconnect_clears() {
        let mut a = ActiveFaults::default();
        a.start(Fault::BmcReset {
            keep_watchdog: false,
        });
        assert!(a.is_healthy());
        a.start(Fault::Silent);
        a.start(Fault::B2hAtnStuck);
        a.stop(FaultKind::Reconnect);
        assert!(a.is_healthy());
        assert!(FaultKind::BmcReset.is_instant() && !FaultKind::Silent.is_instant());
    }

    #[test]
    fn ignore_command_holds_several_pairs() {
        let mut a = ActiveFaults::default();
        a.start(Fault::IgnoreCommand {
            netfn: 6,
            cmd: 0x36,
        });
        a.start(Fault::IgnoreCommand {
            netfn: 6,
            cmd: 0x01,
        });
        a.start(Fault::IgnoreCommand {
            netfn: 6,
            cmd: 0x01,
        });
        assert!(a.ignores(6, 0x36) && a.ignores(6, 0x01) && !a.ignores(6, 0x22));
        assert_eq!(a.ignored.iter().filter(|x| x.is_some()).count(), 2);
        for c in 0..20 {
            a.start(Fault::IgnoreCommand {
                netfn: 0x0A,
                cmd: c,
            });
        }
        assert!(a.ignores(0x0A, 19) && !a.ignores(0x0A, 0));
    }

    #[test]
    fn display_mentions_parameters() {
        assert_eq!(
            Fault::CorruptLength { len: 2 }.to_string(),
            "corrupt_length(len=2)"
        );
        assert_eq!(Fault::Silent.to_string(), "silent");
        assert_eq!(
            Fault::IgnoreCommand {
                netfn: 6,
                cmd: 0x36
            }
            .to_string(),
            "ignore_command(netfn=0x06, cmd=0x36)"
        );
    }

    #[test]
    fn plan_builder_keeps_order() {
        let p = FaultPlan::new()
            .start_at(Instant::from_secs(1), Fault::Silent)
            .stop_at(Instant::from_secs(2), FaultKind::Silent)
            .start_at_command(3, Fault::RegistersFF);
        assert_eq!(p.entries.len(), 3);
        assert_eq!(p.entries[2].trigger, Trigger::AtCommand(3));
    }
}
