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
//!
//! # One declaration per fault kind
//!
//! `declare_faults!` below declares every kind once: the [`Fault`] variant
//! and its effect (doc), its typed parameters (name, type, required /
//! optional / default, maximum, doc), its scenario-file name (kebab-case,
//! also what traces print), whether it is instantaneous, and a one-line
//! summary. [`FaultKind`] with [`name`](FaultKind::name),
//! [`params`](FaultKind::params) and [`summary`](FaultKind::summary), the
//! parameter check and the lowering ([`Fault::from_params`],
//! [`FaultEntry::lower`]) are derived from it; the scenario layer's
//! `[[fault]]` reader takes the keys the declaration lists.
//!
//! Adding a fault kind: an entry in `declare_faults!`, its state in
//! [`ActiveFaults`] (`start`/`stop`/`is_active`, this file), its effect in
//! `bmc/mod.rs`, the row in `sim/scenarios/README.md` (checked by
//! `sim/tests/fault_table.rs`), and tests.

use core::fmt;
use core::time::Duration;

use ipmi_vocab::Instant;

/// How to read a parameter's value: the type a scenario file gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamType {
    /// A duration (`"1.5s"` in a scenario file).
    Duration,
    /// An integer 0–255 (hex allowed in files: `0xC0`).
    U8,
    /// An integer 0–65535.
    U16,
    /// An integer 0–4294967295.
    U32,
    /// `true` or `false`.
    Bool,
}

impl ParamType {
    /// What a person writes, for docs and messages.
    pub const fn describe(self) -> &'static str {
        match self {
            ParamType::Duration => "duration",
            ParamType::U8 => "byte",
            ParamType::U16 => "integer",
            ParamType::U32 => "integer",
            ParamType::Bool => "boolean",
        }
    }
}

/// One parameter value, typed as its [`ParamType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // one variant per `ParamType`
pub enum ParamValue {
    Duration(Duration),
    U8(u8),
    U16(u16),
    U32(u32),
    Bool(bool),
}

impl ParamValue {
    /// The type of this value.
    pub const fn ty(self) -> ParamType {
        match self {
            ParamValue::Duration(_) => ParamType::Duration,
            ParamValue::U8(_) => ParamType::U8,
            ParamValue::U16(_) => ParamType::U16,
            ParamValue::U32(_) => ParamType::U32,
            ParamValue::Bool(_) => ParamType::Bool,
        }
    }

    fn as_u64(self) -> Option<u64> {
        match self {
            ParamValue::U8(v) => Some(u64::from(v)),
            ParamValue::U16(v) => Some(u64::from(v)),
            ParamValue::U32(v) => Some(u64::from(v)),
            ParamValue::Duration(_) | ParamValue::Bool(_) => None,
        }
    }
}

/// A Rust type a fault parameter can have (the field type in [`Fault`]).
pub(crate) trait ParamField: Copy {
    /// Its [`ParamType`].
    const TYPE: ParamType;
    /// The value as this type (`None` if it has another type).
    fn from_value(v: ParamValue) -> Option<Self>;
}

macro_rules! param_field {
    ($($t:ty => $v:ident),* $(,)?) => {$(
        impl ParamField for $t {
            const TYPE: ParamType = ParamType::$v;
            fn from_value(v: ParamValue) -> Option<Self> {
                match v {
                    ParamValue::$v(x) => Some(x),
                    _ => None,
                }
            }
        }
    )*};
}
param_field!(Duration => Duration, u8 => U8, u16 => U16, u32 => U32, bool => Bool);

/// Whether a parameter must be given, and what its absence means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Presence {
    /// The fault kind needs it.
    Required,
    /// May be absent; the text says what absence means.
    Optional(&'static str),
    /// May be absent; then it has this value (as written in a file).
    Default(&'static str),
}

/// One declared parameter of a fault kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParamDecl {
    /// Its key in a scenario file (snake_case, as the [`Fault`] field).
    pub name: &'static str,
    /// Its value type.
    pub ty: ParamType,
    /// Required, optional or defaulted.
    pub presence: Presence,
    /// Largest accepted integer value, when below the type's own maximum.
    pub max: Option<u64>,
    /// One-line description (the [`Fault`] field's doc).
    pub doc: &'static str,
}

/// The parameters of one scheduled fault, as a file gives them (in file
/// order). [`Fault::from_params`] checks them against the kind's declaration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FaultParams {
    values: Vec<(&'static str, ParamValue)>,
}

impl FaultParams {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder: set parameter `name` (replacing an earlier value).
    pub fn with(mut self, name: &'static str, v: ParamValue) -> Self {
        self.set(name, v);
        self
    }

    /// Set parameter `name` (replacing an earlier value).
    pub fn set(&mut self, name: &'static str, v: ParamValue) {
        match self.values.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = v,
            None => self.values.push((name, v)),
        }
    }

    /// The value of parameter `name`, if given.
    pub fn get(&self, name: &str) -> Option<ParamValue> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// Every given parameter, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, ParamValue)> + '_ {
        self.values.iter().copied()
    }

    /// True if no parameter is given.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Parameter `name` as `T`; `Err` if given with another type.
    fn typed<T: ParamField>(&self, name: &'static str) -> Result<Option<T>, FaultSpecError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => T::from_value(v).map(Some).ok_or_else(|| FaultSpecError {
                field: name,
                message: format!("`{name}` must be a {}", T::TYPE.describe()),
            }),
        }
    }
}

/// A scheduled fault its declaration rejects: which key, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSpecError {
    /// The key at fault (`kind`, `at`, `at_command`, `duration` or a parameter).
    pub field: &'static str,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for FaultSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FaultSpecError {}

// Helpers of `declare_faults!`, one arm per parameter presence.
macro_rules! fault_field_ty {
    (required $t:ty) => { $t };
    (optional $t:ty) => { Option<$t> };
    (default $t:ty) => { $t };
}
macro_rules! fault_presence {
    (required) => {
        Presence::Required
    };
    (optional $a:literal) => {
        Presence::Optional($a)
    };
    (default $a:literal) => {
        Presence::Default(stringify!($a))
    };
}
macro_rules! fault_field_value {
    ($v:expr, $name:expr, required) => {
        match $v {
            Some(x) => x,
            None => {
                return Err(FaultSpecError {
                    field: "kind",
                    message: format!("missing `{}`", $name),
                })
            }
        }
    };
    ($v:expr, $name:expr, optional $a:literal) => {
        $v
    };
    ($v:expr, $name:expr, default $a:literal) => {
        $v.unwrap_or($a)
    };
}
macro_rules! fault_max {
    () => {
        None
    };
    ($m:literal) => {
        Some($m)
    };
}

/// Declares every fault kind once: its [`Fault`] variant with the effect
/// (doc) and typed parameters, its scenario-file name, whether it is
/// instantaneous, and the one-line summary the scenario README shows. From
/// it come [`Fault`], [`FaultKind`] (names, summaries, parameter tables) and
/// [`Fault::from_params`].
///
/// A parameter is `name: Type => required`, `=> optional("what absence
/// means")` (the field is then `Option<Type>`) or `=> default(value)`,
/// optionally followed by `[max N]`.
macro_rules! declare_faults {
    ($(
        $(#[doc = $doc:literal])*
        $V:ident $({
            $( $(#[doc = $pdoc:literal])*
               $p:ident : $pty:ty => $pres:ident $(($arg:literal))? $([max $max:literal])? ),* $(,)?
        })? = $name:literal $(, $instant:ident)? : $summary:literal;
    )*) => {
        /// One BMC misbehaviour (see `declare_faults!` in this module: every
        /// kind is declared there once).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Fault {
            $(
                $(#[doc = $doc])*
                $V $({ $( $(#[doc = $pdoc])* $p: fault_field_ty!($pres $pty), )* })?,
            )*
        }

        /// Which fault, without its parameters (used to stop one). Its
        /// [`name`](Self::name) is the scenario file's `kind`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum FaultKind {
            $(
                #[doc = concat!("`", $name, "`: ", $summary)]
                $V,
            )*
        }

        impl FaultKind {
            /// Every kind, in declaration order.
            pub const ALL: [FaultKind; [$(stringify!($V)),*].len()] = [$(FaultKind::$V),*];

            /// Every kind's [`name`](Self::name), in declaration order.
            pub const NAMES: [&'static str; [$(stringify!($V)),*].len()] = [$($name),*];

            /// The kebab-case name, as used in scenario files, traces and
            /// the timeline (`stuck-busy`, `stuck-b2h`, …).
            pub const fn name(self) -> &'static str {
                match self {
                    $(FaultKind::$V => $name,)*
                }
            }

            /// One line on what the BMC does (the scenario README's table).
            pub const fn summary(self) -> &'static str {
                match self {
                    $(FaultKind::$V => $summary,)*
                }
            }

            /// True for faults that happen once instead of staying on.
            pub const fn is_instant(self) -> bool {
                match self {
                    $(FaultKind::$V => false $(|| fault_instant!($instant))?,)*
                }
            }

            /// The parameters this kind takes, in declaration order.
            pub const fn params(self) -> &'static [ParamDecl] {
                match self {
                    $(FaultKind::$V => {
                        const P: &[ParamDecl] = &[$($(ParamDecl {
                            name: stringify!($p),
                            ty: <$pty as ParamField>::TYPE,
                            presence: fault_presence!($pres $($arg)?),
                            max: fault_max!($($max)?),
                            doc: concat!($($pdoc),*),
                        }),*)?];
                        P
                    })*
                }
            }
        }

        impl Fault {
            /// The kind of this fault.
            pub const fn kind(&self) -> FaultKind {
                match self {
                    $(Fault::$V { .. } => FaultKind::$V,)*
                }
            }

            /// Writes the parameters as `(name=value, …)` (nothing without any).
            #[allow(unused_assignments, unused_mut)]
            fn write_params_generic(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Fault::$V $({ $($p),* })? => {
                        let mut sep = "(";
                        $($(
                            write!(f, "{sep}{}={:?}", stringify!($p), $p)?;
                            sep = ", ";
                        )*)?
                        if sep == ", " {
                            f.write_str(")")?;
                        }
                    })*
                }
                Ok(())
            }

            /// The fault of `kind` with `params` (typed, defaults filled in),
            /// assuming [`check_params`] passed.
            fn build(kind: FaultKind, params: &FaultParams) -> Result<Fault, FaultSpecError> {
                Ok(match kind {
                    $(FaultKind::$V => Fault::$V $({ $(
                        $p: fault_field_value!(
                            params.typed::<$pty>(stringify!($p))?,
                            stringify!($p),
                            $pres $($arg)?
                        ),
                    )* })?,)*
                })
            }
        }
    };
}
macro_rules! fault_instant {
    (instant) => {
        true
    };
}

declare_faults! {
    /// The BMC takes each request (clears H2B_ATN) and then drops it: B_BUSY
    /// clears, no response ever comes, the command is not executed. Host view:
    /// BT_CTRL reads 0x00 while waiting (kernel-bt.md §13 T3).
    Silent = "silent": "takes each request and drops it; CTRL reads 0x00 while the host waits (with `unanswered_holds_b_busy`, e.g. the `qemu` preset: B_BUSY stays set)";

    /// B_BUSY reads 1 and the BMC takes no request (firmware update, daemon
    /// gone: bt-bmc `bt_bmc_release` sets B_BUSY). kernel-bt.md §13 T4.
    StuckBusy = "stuck-busy": "holds B_BUSY; takes nothing";

    /// The BMC never notices H2B_ATN: the bit stays set, nothing is taken.
    NeverClearH2b = "never-clear-h2b": "never notices H2B_ATN";

    /// The BMC takes each request (H2B_ATN cleared, B_BUSY set) and hangs
    /// with B_BUSY set until the fault ends; then the request is dropped and
    /// B_BUSY clears. Like QEMU's extern BMC answering with a wrong msg id
    /// (bmc-watchdog.md §5): the host times out in WRITE_CONSUME, not in
    /// XACTION_START as with [`Fault::StuckBusy`].
    HoldBusy = "hold-busy": "takes each request (H2B_ATN clears), keeps B_BUSY set and never answers; at the end of the fault the request is dropped and B_BUSY clears (QEMU with an answer for the wrong msg_id: the host prints `[ B_BUSY ]`). With `unanswered_holds_b_busy` (QEMU) a request written meanwhile, such as the BT reset's Warm Reset, is taken at once and supersedes the held one";

    /// Responses are posted `latency` after the request is taken (instead of
    /// the configured response latency).
    Slow {
        /// Processing time per request.
        latency: Duration => required,
    } = "slow": "answers after `latency`";

    /// Requests are executed but their responses are never posted; `count`
    /// responses are lost, then the fault ends by itself (`None`: forever).
    LoseResponses {
        /// How many responses to lose.
        count: u32 => optional("absent: all"),
    } = "lose-responses": "executes but never answers";

    /// Each response is lost with probability `per_mille`/1000 (seeded).
    RandomLoss {
        /// Loss probability in thousandths.
        per_mille: u16 => required [max 1000],
    } = "random-loss": "loses each response with that probability (seeded)";

    /// The response carries seq + `seq_delta` (mod 256; 0xFF is "seq − 1").
    /// With `correct_after`, the correct response follows that long after
    /// the wrong one was posted (kernel-bt.md §13 T6).
    WrongSeq {
        /// Added to the request's seq.
        seq_delta: u8 => required,
        /// Delay before the correct response, if any.
        correct_after: Duration => optional("absent: never"),
    } = "wrong-seq": "answers with seq + delta, maybe the right one later";

    /// Instead of the response, the previous transaction's response is posted
    /// again (stale data); with `correct_after`, the right one follows.
    StaleResponse {
        /// Delay before the correct response, if any.
        correct_after: Duration => optional("absent: never"),
    } = "stale-response": "re-posts the previous response";

    /// Every response is posted twice: once normally, then again as soon as
    /// the host has consumed the first copy.
    DuplicateResponse = "duplicate-response": "posts every response twice";

    /// The response's length byte is replaced by `len` (the rest unchanged).
    /// `len < 4` makes Linux report 0xC6 (kernel-bt.md §13 T7).
    CorruptLength {
        /// The length byte to post.
        len: u8 => required,
    } = "corrupt-length": "replaces the response length byte";

    /// B2H_ATN reads 1 and host writes to clear it are ignored
    /// (kernel-bt.md §13 T11, bug B-8).
    StuckB2h = "stuck-b2h": "keeps B2H_ATN set, ignoring the host's clears (B-8)";

    /// Every register reads 0xFF and writes are ignored: the device is gone
    /// (LPC decode off; bmc-watchdog.md §5 first row).
    ReadsFf = "reads-ff": "every register reads 0xFF (device gone)";

    /// Instantaneous: the BMC reboots. The interface is cleared, pending work
    /// is lost and B_BUSY is held for the configured boot time. With
    /// `keep_watchdog` the watchdog keeps its configuration and keeps running
    /// (a BMC whose watchdog lives in hardware); otherwise it is lost and the
    /// next Reset Watchdog returns 0x80.
    BmcReset {
        /// Whether the watchdog survives the reset.
        keep_watchdog: bool => default(false),
    } = "bmc-reset", instant: "reboots (instant; busy for `boot_time`)";

    /// Instantaneous: every active fault ends; the BMC is healthy again.
    Reconnect = "reconnect", instant: "ends every active fault (instant)";

    /// Requests with this NetFn (request NetFn, without LUN) and command are
    /// taken and dropped like [`Fault::Silent`]; others are answered.
    IgnoreCommand {
        /// Request NetFn (e.g. 0x06 App).
        netfn: u8 => required,
        /// Command (e.g. 0x36 Get BT Interface Capabilities).
        cmd: u8 => required,
    } = "ignore-command": "drops only that command";

    /// Every request is answered with completion code `cc` and no data,
    /// without executing it (e.g. 0xC0 Node Busy or 0xD2 "initialization in
    /// progress" while a BMC boots).
    ErrorResponse {
        /// Completion code to return.
        cc: u8 => required,
    } = "error-response": "answers everything with that completion code";

    /// The BMC's answer is rewritten before it is posted: its NetFn (without
    /// LUN), its command and/or one byte from the completion code on
    /// (`data_index` 0 is the completion code, 1 the first data byte; an
    /// index past the answer changes nothing). A NetFn that differs from the
    /// request's only in the response bit (6 for a NetFn 6 request) passes
    /// Linux's BT layer (`ipmi_bt_sm.c` `read_all_bytes` masks that bit) and
    /// is caught by the message handler (0xFF, `BMC returned incorrect
    /// response`); another NetFn or command is a BT "bad packet". `count`
    /// answers are rewritten, then the fault ends by itself.
    RewriteResponse {
        /// Response NetFn to post (without LUN; e.g. 0x06 where 0x07 is due).
        netfn: u8 => optional("absent: unchanged") [max 63],
        /// Command to post.
        cmd: u8 => optional("absent: unchanged"),
        /// Which byte from the completion code on gets `value` (0 = cc).
        data_index: u8 => optional("absent: no byte changes"),
        /// The value written at `data_index`.
        value: u8 => default(0),
        /// How many answers to rewrite.
        count: u32 => optional("absent: all"),
    } = "rewrite-response": "rewrites the answer's NetFn, cmd and/or one byte";

    /// The link between the BT interface and the BMC is down (QEMU
    /// `ipmi-bmc-extern` with its chardev closed, `hw/ipmi/ipmi_bmc_extern.c`
    /// `ipmi_bmc_extern_handle_command`, `!ibe->connected`): every request is
    /// answered 0xD2 at once and never reaches the BMC. With
    /// `qemu_bt_device`, Get BT Interface Capabilities is still answered by
    /// QEMU's BT device itself, and a request awaiting its answer when the
    /// link drops is answered 0xD2 then (`chr_event`, `CHR_EVENT_CLOSED`).
    /// Ends with its `duration` or `reconnect` (the chardev reconnects).
    LinkDrop = "link-drop": "the link to the BMC is down: every request is answered 0xD2 at once and never reaches the BMC (QEMU extern disconnected); ends at `reconnect`";

    /// Instantaneous: the BMC raises SMS_ATN (the VM protocol's `ATTN`,
    /// QEMU `ipmi_bt_set_atn`); with `irq` also the BT interrupt, when the
    /// host enabled it and B2H_ATN is clear (`ATTN_IRQ`). Linux answers with
    /// Get Message Flags.
    RaiseAttn {
        /// Also raise the interrupt (`VM_CMD_ATTN_IRQ`).
        irq: bool => default(false),
    } = "raise-attn", instant: "raises SMS_ATN, with `irq` also the interrupt (instant)";

    /// The answer to each request is held back and posted `delay` later, as
    /// an answer for that request's msg_id, while the BMC takes the next
    /// requests. Without `qemu_bt_device` the late frame carries its old seq
    /// (the BT layer drops it); with it, QEMU accepts the late answer only if
    /// its msg_id is still awaited (`ipmi_bt_handle_rsp`: no answer and no
    /// extern timeout came in between) and writes the *current* seq into
    /// it, so a late answer of the same command reaches the host as the
    /// answer to the next request.
    LateAnswer {
        /// How long after it was due the answer comes.
        delay: Duration => required,
    } = "late-answer": "answers each request `delay` late, while the BMC takes the next ones";

    /// The BMC posts answers that are not for the host's current request,
    /// each as soon as BMC2HOST is free (B2H_ATN clear and the host's
    /// H_BUSY released: the condition Linux's BMC-side driver waits for
    /// before it posts, `bt-bmc.c` `bt_bmc_write`), within the same instant:
    /// a BMC holding a backlog of them posts the next before the host's next
    /// CTRL read. They are answers to earlier requests: late answers to
    /// requests the BMC already answered itself with a timeout error (the
    /// OpenBMC BT bridge answered a request 0xC3-like after 1 s and later
    /// forwarded the IPMI daemon's real answer, seq and all: openbmc/openbmc
    /// issue #494), or a daemon flushing its queue after a restart. Each
    /// copies the BMC's latest answer (NetFn, cmd, data) with the seq of an
    /// older request: the seq of the request last answered minus 1, 2, … (up
    /// to 255, then from 1 again), so never the seq of the request the BMC
    /// last took. The host's own answer keeps its time and goes first when
    /// both are due. `count` foreign answers are posted, then the fault ends
    /// by itself (absent: until the fault ends). Behind QEMU's BT device
    /// (`qemu_bt_device`) an answer for a msg_id that is not awaited is
    /// dropped (`ipmi_bt.c` `ipmi_bt_handle_rsp`), so the fault does nothing
    /// there.
    ForeignResponses {
        /// How many foreign answers to post.
        count: u32 => optional("absent: until the fault ends"),
    } = "foreign-responses": "posts answers to earlier requests (older seq) whenever BMC2HOST is free, at once";
}

impl FaultKind {
    /// The kind named `name` (see [`name`](Self::name)).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The declaration of parameter `name` of this kind, if it takes one.
    pub fn param(self, name: &str) -> Option<&'static ParamDecl> {
        self.params().iter().find(|p| p.name == name)
    }

    /// The declaration of parameter `name` in any kind (a name has one type
    /// in every kind that takes it).
    pub fn any_param(name: &str) -> Option<&'static ParamDecl> {
        Self::ALL.into_iter().find_map(|k| k.param(name))
    }

    /// `` `a`, `b` `` — the parameters this kind takes, for messages.
    fn param_list(self) -> String {
        let names: Vec<String> = self
            .params()
            .iter()
            .map(|p| format!("`{}`", p.name))
            .collect();
        match names.as_slice() {
            [] => "no parameters".to_owned(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for FaultKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for FaultKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = FaultKind;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a fault kind")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FaultKind, E> {
                FaultKind::from_name(v).ok_or_else(|| E::unknown_variant(v, &FaultKind::NAMES))
            }
        }
        d.deserialize_str(V)
    }
}

impl Fault {
    /// The fault of `kind` with `params`: every given parameter must be one
    /// the kind takes, every required one must be given, values within their
    /// declared range; absent optional ones take their defaults.
    pub fn from_params(kind: FaultKind, params: &FaultParams) -> Result<Fault, FaultSpecError> {
        check_params(kind, params)?;
        Fault::build(kind, params)
    }
}

/// The applicability, presence and range checks of [`Fault::from_params`].
fn check_params(kind: FaultKind, params: &FaultParams) -> Result<(), FaultSpecError> {
    for (name, _) in params.iter() {
        if kind.param(name).is_none() {
            return Err(FaultSpecError {
                field: name,
                message: format!(
                    "`{name}` does not apply to fault kind {kind}, which takes {}",
                    kind.param_list()
                ),
            });
        }
    }
    let missing: Vec<String> = kind
        .params()
        .iter()
        .filter(|p| p.presence == Presence::Required && params.get(p.name).is_none())
        .map(|p| format!("`{}`", p.name))
        .collect();
    if !missing.is_empty() {
        return Err(FaultSpecError {
            field: "kind",
            message: format!("fault kind {kind} needs {}", missing.join(" and ")),
        });
    }
    for p in kind.params() {
        if let (Some(max), Some(v)) = (p.max, params.get(p.name).and_then(ParamValue::as_u64)) {
            if v > max {
                return Err(FaultSpecError {
                    field: p.name,
                    message: format!("{} must be at most {max}", p.name),
                });
            }
        }
    }
    Ok(())
}

impl fmt::Display for Fault {
    /// The kind's name, then its parameters in parentheses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind().name())?;
        // Hand-shaped parameter text for the kinds that had it before the
        // declaration; a new kind gets `(name=value, …)`.
        match *self {
            Fault::LoseResponses { count: Some(n) } => write!(f, "(count={n})"),
            Fault::LoseResponses { count: None } => f.write_str("(count=all)"),
            Fault::RandomLoss { per_mille } => write!(f, "({per_mille}/1000)"),
            Fault::WrongSeq {
                seq_delta,
                correct_after,
            } => write!(
                f,
                "(delta={seq_delta:#04x}, correct_after={correct_after:?})"
            ),
            Fault::IgnoreCommand { netfn, cmd } => {
                write!(f, "(netfn={netfn:#04x}, cmd={cmd:#04x})")
            }
            Fault::ErrorResponse { cc } => write!(f, "(cc={cc:#04x})"),
            _ => self.write_params_generic(f),
        }
    }
}

/// When and for how long one scheduled fault runs, as a file gives it
/// (`at` / `at_command` / `duration`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FaultTiming {
    /// Start this long after the start of the run.
    pub at: Option<Duration>,
    /// Start when the Nth message reaches the BMC (1-based; see [`Trigger::AtCommand`]).
    pub at_command: Option<u64>,
    /// Stop again after this long; absent = until the end of the run.
    pub duration: Option<Duration>,
}

impl FaultEntry {
    /// Lowers one scheduled fault (kind, parameters, timing) to a plan
    /// entry, with every check a scenario file gets: exactly one of `at` /
    /// `at_command`, `at_command` from 1, a non-zero `duration` and none for
    /// instantaneous kinds, and [`Fault::from_params`].
    pub fn lower(
        kind: FaultKind,
        params: &FaultParams,
        timing: FaultTiming,
    ) -> Result<Self, FaultSpecError> {
        let err = |field, message: &str| FaultSpecError {
            field,
            message: message.to_owned(),
        };
        let trigger = match (timing.at, timing.at_command) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "at_command",
                    "give either `at` or `at_command`, not both",
                ))
            }
            (None, None) => {
                return Err(err(
                    "kind",
                    "missing start: give `at = \"<time>\"` or `at_command = <n>`",
                ))
            }
            (None, Some(0)) => return Err(err("at_command", "at_command counts from 1")),
            (None, Some(n)) => Trigger::AtCommand(n),
            (Some(t), None) => Trigger::At(Instant::ZERO + t),
        };
        if timing.duration == Some(Duration::ZERO) {
            return Err(err(
                "duration",
                "duration must be greater than 0s (omit it for \"until the end\")",
            ));
        }
        check_params(kind, params)?;
        if kind.is_instant() && timing.duration.is_some() {
            return Err(FaultSpecError {
                field: "duration",
                message: format!("fault kind {kind} is instantaneous; remove `duration`"),
            });
        }
        let fault = Fault::build(kind, params)?;
        let action = match timing.duration {
            Some(d) => FaultAction::StartFor(fault, d),
            None => FaultAction::Start(fault),
        };
        Ok(FaultEntry { trigger, action })
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
pub(crate) const MAX_IGNORED_COMMANDS: usize = 8;

/// The set of currently active (non-instant) faults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActiveFaults {
    /// [`Fault::Silent`].
    pub silent: bool,
    /// [`Fault::StuckBusy`].
    pub stuck_b_busy: bool,
    /// [`Fault::NeverClearH2b`].
    pub never_clear_h2b_atn: bool,
    /// [`Fault::HoldBusy`].
    pub hang_after_take: bool,
    /// [`Fault::Slow`] latency.
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
    /// [`Fault::StuckB2h`].
    pub b2h_atn_stuck: bool,
    /// [`Fault::ReadsFf`].
    pub registers_ff: bool,
    /// [`Fault::IgnoreCommand`] (netfn, cmd) pairs.
    pub ignored: [Option<(u8, u8)>; MAX_IGNORED_COMMANDS],
    /// [`Fault::ErrorResponse`] completion code.
    pub error_response: Option<u8>,
    /// [`Fault::RewriteResponse`]: (netfn, cmd, data_index, value, answers left).
    pub rewrite: Option<ResponseRewrite>,
    /// [`Fault::LinkDrop`].
    pub link_down: bool,
    /// [`Fault::LateAnswer`] delay.
    pub late_answer: Option<Duration>,
    /// [`Fault::ForeignResponses`]: `Some(None)` until stopped,
    /// `Some(Some(n))` n more answers.
    pub foreign_responses: Option<Option<u32>>,
}

/// The parameters of an active [`Fault::RewriteResponse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResponseRewrite {
    /// Response NetFn to post (without LUN).
    pub netfn: Option<u8>,
    /// Command to post.
    pub cmd: Option<u8>,
    /// Byte index from the completion code on, and its new value.
    pub byte: Option<(u8, u8)>,
    /// Answers left to rewrite (`None`: all).
    pub left: Option<u32>,
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
            Fault::StuckBusy => self.stuck_b_busy = true,
            Fault::NeverClearH2b => self.never_clear_h2b_atn = true,
            Fault::HoldBusy => self.hang_after_take = true,
            Fault::Slow { latency } => self.slow_response = Some(latency),
            Fault::LoseResponses { count } => self.lose_responses = Some(count),
            Fault::RandomLoss { per_mille } => self.random_loss_per_mille = per_mille.min(1000),
            Fault::WrongSeq {
                seq_delta,
                correct_after,
            } => self.wrong_seq = Some((seq_delta, correct_after)),
            Fault::StaleResponse { correct_after } => self.stale_response = Some(correct_after),
            Fault::DuplicateResponse => self.duplicate_response = true,
            Fault::CorruptLength { len } => self.corrupt_length = Some(len),
            Fault::StuckB2h => self.b2h_atn_stuck = true,
            Fault::ReadsFf => self.registers_ff = true,
            Fault::IgnoreCommand { netfn, cmd } => {
                if !self.ignored.contains(&Some((netfn, cmd))) {
                    self.ignored.rotate_right(1);
                    self.ignored[0] = Some((netfn, cmd));
                }
            }
            Fault::ErrorResponse { cc } => self.error_response = Some(cc),
            Fault::RewriteResponse {
                netfn,
                cmd,
                data_index,
                value,
                count,
            } => {
                self.rewrite = Some(ResponseRewrite {
                    netfn,
                    cmd,
                    byte: data_index.map(|i| (i, value)),
                    left: count,
                })
            }
            Fault::LinkDrop => self.link_down = true,
            Fault::LateAnswer { delay } => self.late_answer = Some(delay),
            Fault::ForeignResponses { count } => self.foreign_responses = Some(count),
            Fault::BmcReset { .. } | Fault::Reconnect | Fault::RaiseAttn { .. } => {}
        }
    }

    /// Turn every fault of `kind` off. [`FaultKind::Reconnect`] clears all.
    pub fn stop(&mut self, kind: FaultKind) {
        match kind {
            FaultKind::Silent => self.silent = false,
            FaultKind::StuckBusy => self.stuck_b_busy = false,
            FaultKind::NeverClearH2b => self.never_clear_h2b_atn = false,
            FaultKind::HoldBusy => self.hang_after_take = false,
            FaultKind::Slow => self.slow_response = None,
            FaultKind::LoseResponses => self.lose_responses = None,
            FaultKind::RandomLoss => self.random_loss_per_mille = 0,
            FaultKind::WrongSeq => self.wrong_seq = None,
            FaultKind::StaleResponse => self.stale_response = None,
            FaultKind::DuplicateResponse => self.duplicate_response = false,
            FaultKind::CorruptLength => self.corrupt_length = None,
            FaultKind::StuckB2h => self.b2h_atn_stuck = false,
            FaultKind::ReadsFf => self.registers_ff = false,
            FaultKind::IgnoreCommand => self.ignored = [None; MAX_IGNORED_COMMANDS],
            FaultKind::ErrorResponse => self.error_response = None,
            FaultKind::RewriteResponse => self.rewrite = None,
            FaultKind::LinkDrop => self.link_down = false,
            FaultKind::LateAnswer => self.late_answer = None,
            FaultKind::ForeignResponses => self.foreign_responses = None,
            FaultKind::Reconnect => self.clear_all(),
            FaultKind::BmcReset | FaultKind::RaiseAttn => {}
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
            FaultKind::StuckBusy => self.stuck_b_busy,
            FaultKind::NeverClearH2b => self.never_clear_h2b_atn,
            FaultKind::HoldBusy => self.hang_after_take,
            FaultKind::Slow => self.slow_response.is_some(),
            FaultKind::LoseResponses => self.lose_responses.is_some(),
            FaultKind::RandomLoss => self.random_loss_per_mille > 0,
            FaultKind::WrongSeq => self.wrong_seq.is_some(),
            FaultKind::StaleResponse => self.stale_response.is_some(),
            FaultKind::DuplicateResponse => self.duplicate_response,
            FaultKind::CorruptLength => self.corrupt_length.is_some(),
            FaultKind::StuckB2h => self.b2h_atn_stuck,
            FaultKind::ReadsFf => self.registers_ff,
            FaultKind::IgnoreCommand => self.ignored.iter().any(Option::is_some),
            FaultKind::ErrorResponse => self.error_response.is_some(),
            FaultKind::RewriteResponse => self.rewrite.is_some(),
            FaultKind::LinkDrop => self.link_down,
            FaultKind::LateAnswer => self.late_answer.is_some(),
            FaultKind::ForeignResponses => self.foreign_responses.is_some(),
            FaultKind::BmcReset | FaultKind::Reconnect | FaultKind::RaiseAttn => false,
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
            Fault::StuckBusy,
            Fault::NeverClearH2b,
            Fault::Slow {
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
            Fault::StuckB2h,
            Fault::ReadsFf,
            Fault::IgnoreCommand {
                netfn: 6,
                cmd: 0x36,
            },
            Fault::ErrorResponse { cc: 0xC0 },
            Fault::RewriteResponse {
                netfn: Some(6),
                cmd: None,
                data_index: None,
                value: 0,
                count: Some(1),
            },
            Fault::LinkDrop,
            Fault::LateAnswer {
                delay: Duration::from_secs(1),
            },
            Fault::ForeignResponses { count: Some(3) },
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
        a.start(Fault::StuckB2h);
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
            "corrupt-length(len=2)"
        );
        assert_eq!(Fault::Silent.to_string(), "silent");
        assert_eq!(
            Fault::IgnoreCommand {
                netfn: 6,
                cmd: 0x36
            }
            .to_string(),
            "ignore-command(netfn=0x06, cmd=0x36)"
        );
    }

    #[test]
    fn plan_builder_keeps_order() {
        let p = FaultPlan::new()
            .start_at(Instant::from_secs(1), Fault::Silent)
            .stop_at(Instant::from_secs(2), FaultKind::Silent)
            .start_at_command(3, Fault::ReadsFf);
        assert_eq!(p.entries.len(), 3);
        assert_eq!(p.entries[2].trigger, Trigger::AtCommand(3));
    }
}
