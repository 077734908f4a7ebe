//! Scenario files: a workload, a fault schedule, a driver (kernel) profile and a
//! BMC configuration, written in TOML, that [`crate::scenario::runner::run`] turns into a
//! [`crate::scenario::trace::Trace`].
//!
//! The format is documented with examples in `sim/scenarios/README.md`. In short:
//!
//! ```toml
//! name = "seed-slides"
//! stop = "40s"                 # simulated run length
//! seed = 1                     # reproduces any randomised BMC behaviour
//!
//! [driver]
//! kernel = "v4.19"             # named preset: BT state-machine + SI-layer behaviour
//! hz = 250                     # CONFIG_HZ: 100, 250, 300 or 1000
//! irq = false                  # false = timer polling, true = BT interrupt
//! probe = false                # run detect + Get Device ID before the workload
//!
//! [bmc]
//! latency = "10ms"             # request → B2H_ATN
//!
//! [[request]]
//! at = "1s"
//! netfn = 0x06
//! cmd = 0x01                   # Get Device ID
//!
//! [[fault]]
//! kind = "silent"              # BMC stops answering
//! at = "500ms"
//! ```
//!
//! Errors from [`Scenario::from_toml_str`] name the line, column and field
//! (`line 7, column 6, field driver.hz: ...`).

use core::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::host::presets::KernelPreset;
use crate::host::si::SiProfile;

/// A whole scenario file. Field names are the TOML keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short identifier, shown in traces and pictures.
    pub name: String,
    /// Free text: what the scenario demonstrates.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Seed for every randomised choice of the simulated BMC.
    #[serde(default)]
    pub seed: u64,
    /// Simulated time at which the run stops.
    pub stop: Dur,
    /// Host side: kernel behaviour profile, HZ, IRQ/polling, probe phase.
    #[serde(default)]
    pub driver: DriverSpec,
    /// BMC side: latencies, capabilities answer, watchdog profile.
    #[serde(default)]
    pub bmc: BmcSpec,
    /// What to record beyond the defaults.
    #[serde(default)]
    pub trace: TraceSpec,
    /// The workload, in file order.
    #[serde(default, rename = "request", skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RequestSpec>,
    /// The fault schedule, in file order.
    #[serde(default, rename = "fault", skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultSpec>,
}

/// Host-driver configuration (`[driver]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriverSpec {
    /// Named kernel preset (a row of [`KernelPreset::ALL`]); sets `bt` and `si`
    /// unless they are given explicitly.
    #[serde(default, with = "kernel_name")]
    pub kernel: KernelPreset,
    /// Override of the BT state-machine behaviour (`ipmi_bt_sm.c`): an
    /// `ipmi_bt_sm::KernelProfile` name (`linux-2.6.12`, `linux-2.6.15`,
    /// `caps-in-sm`, `caps-in-sm-fe50`, `mainline-2018`, `mainline`,
    /// `fixed-reset`, `proposed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bt: Option<String>,
    /// Override of the SI-layer behaviour (`ipmi_si_intf.c`): a row of
    /// [`SiProfile::ALL`] by name (`pre-2014`, `v2014`, `v2016`, `v2020`,
    /// `current`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "si_name")]
    pub si: Option<SiProfile>,
    /// CONFIG_HZ of the simulated kernel.
    #[serde(default)]
    pub hz: Hz,
    /// Drive the state machine from the BT interrupt (true) or by timer polling.
    #[serde(default)]
    pub irq: bool,
    /// Run the probe sequence (detect, Get Device ID with retries) first.
    #[serde(default)]
    pub probe: bool,
    /// `bt_debug` module parameter bitmask (1 generic, 2 dump, 4 states).
    #[serde(default)]
    pub bt_debug: u8,
    /// Skip polls that provably change nothing (equivalent output, much faster).
    #[serde(default = "default_true")]
    pub fast_forward: bool,
    /// Unload the driver (`shutdown_smi`) at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unload_at: Option<Dur>,
}

impl Default for DriverSpec {
    fn default() -> Self {
        Self {
            kernel: KernelPreset::default(),
            bt: None,
            si: None,
            hz: Hz::default(),
            irq: false,
            probe: false,
            bt_debug: 0,
            fast_forward: true,
            unload_at: None,
        }
    }
}

fn default_true() -> bool {
    true
}

/// Simulated BMC configuration (`[bmc]`): a preset plus overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BmcSpec {
    /// Starting point: `default` (generic, 1 ms answers), `qemu` (QEMU
    /// `isa-ipmi-bt`: instant answers, caps 10 s / 0 retries) or `openbmc`.
    #[serde(default)]
    pub preset: BmcPreset,
    /// Time from taking a request to its response being ready (B2H_ATN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Dur>,
    /// Time from the host's H2B_ATN to the BMC taking the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_latency: Option<Dur>,
    /// Extra random response delay, uniform in 0..=jitter (seeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Dur>,
    /// How long B_BUSY stays set after a BMC reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_time: Option<Dur>,
    /// Keep B_BUSY set from taking a request until the response (QEMU) or
    /// only while reading it (Aspeed `bt-bmc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b_busy_until_response: Option<bool>,
    /// Keep B_BUSY set while a taken request goes unanswered because of a
    /// fault (QEMU; `qemu` preset) instead of clearing it when the request is
    /// dropped ([`crate::bmc::config::BmcConfig::unanswered_holds_b_busy`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unanswered_holds_b_busy: Option<bool>,
    /// The Get BT Interface Capabilities answer (overrides the preset's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<CapsSpec>,
    /// Watchdog compatibility profile name (`spec`, `qemu`, `phosphor-watchdog`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watchdog: Option<String>,
}

/// Named BMC starting points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BmcPreset {
    /// Generic BMC: 64-byte buffers, caps 5 s / 2, 1 ms answers.
    #[default]
    Default,
    /// QEMU `isa-ipmi-bt` + `ipmi-bmc-sim`.
    Qemu,
    /// OpenBMC on an Aspeed iBT.
    Openbmc,
}

/// Get BT Interface Capabilities (NetFn App, cmd 0x36) answer, IPMI v2.0 §22.9.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapsSpec {
    /// Number of outstanding requests supported.
    #[serde(default = "one")]
    pub outstanding: u8,
    /// Input (request) buffer size byte.
    #[serde(default = "buf_size")]
    pub input_size: u8,
    /// Output (response) buffer size byte.
    #[serde(default = "buf_size")]
    pub output_size: u8,
    /// BMC request-to-response time in seconds (Linux's per-attempt timeout).
    #[serde(default = "five")]
    pub req2rsp_secs: u8,
    /// Recommended retries (Linux uses it as the number of attempts).
    #[serde(default = "two")]
    pub retries: u8,
}

fn one() -> u8 {
    1
}
fn two() -> u8 {
    2
}
fn five() -> u8 {
    5
}
fn buf_size() -> u8 {
    0x3F
}

/// Recording options (`[trace]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceSpec {
    /// Record every register access (large: ~20 per transaction).
    #[serde(default)]
    pub registers: bool,
}

/// One `[[request]]` entry: a message (or a repeated series) from the workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// Submission time of the first copy; absent = right after the previous
    /// request entry's last copy completes (back-to-back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Dur>,
    /// Network function (request NetFn, e.g. 0x06 App).
    pub netfn: u8,
    /// Command code.
    pub cmd: u8,
    /// Request data bytes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<u8>,
    /// How many copies to send.
    #[serde(default = "one_u32", skip_serializing_if = "is_one")]
    pub repeat: u32,
    /// Gap between copies, measured submission to submission; absent = each copy
    /// is submitted when the previous one completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Dur>,
    /// Label shown in the timeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The user sending this request has asked for events, as ipmitool's
    /// OpenIPMI plugin does when it opens `/dev/ipmi0`
    /// (`IPMICTL_SET_GETS_EVENTS_CMD`). While it waits for its answer the
    /// message handler's one-second timer asks the SI layer for events
    /// (`ipmi_msghandler.c` `ipmi_timeout` → `request_events`), which the SI
    /// layer serves when idle: Get BMC Global Enables, then Read Event
    /// Message Buffer (`ipmi_si_intf.c` `smi_event_handler`, `req_events`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub gets_events: bool,
}

fn is_false(v: &bool) -> bool {
    !*v
}

fn one_u32() -> u32 {
    1
}
fn is_one(v: &u32) -> bool {
    *v == 1
}

/// One `[[fault]]` entry: what goes wrong in the BMC, from when, for how long.
/// Parameters apply only to the kinds named in their docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// What the BMC does wrong.
    pub kind: FaultKindName,
    /// Start time. Exactly one of `at` / `at_command` must be given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Dur>,
    /// Start when the Nth message reaches the BMC (1-based), i.e. at the
    /// host's Nth H2B_ATN 0→1 edge ([`crate::bmc::SimBmc::commands_seen`]):
    /// detect's Get BT Capabilities, probe and SI-internal requests, each
    /// resend after a timeout and the BT soft reset count; requests the host
    /// refuses before writing them (0xC0 during LONG_BUSY, 0xD5 in a wrong
    /// state) do not. The fault already applies to message N.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_command: Option<u64>,
    /// How long the fault lasts; absent = until the end of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Dur>,
    /// `slow`: processing time per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Dur>,
    /// `lose-responses`: how many responses to lose (absent: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// `random-loss`: loss probability in thousandths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_mille: Option<u16>,
    /// `wrong-seq`: added to the request's seq.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq_delta: Option<u8>,
    /// `wrong-seq` / `stale-response`: the right response follows this much later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct_after: Option<Dur>,
    /// `corrupt-length`: the length byte to post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<u8>,
    /// `bmc-reset`: whether the watchdog survives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_watchdog: Option<bool>,
    /// `ignore-command`: request NetFn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netfn: Option<u8>,
    /// `ignore-command`: command code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<u8>,
    /// `error-response`: completion code to answer with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cc: Option<u8>,
}

/// Fault kinds a scenario can schedule; each maps onto one
/// [`crate::bmc::fault::Fault`] (see its docs for the register-level behaviour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKindName {
    /// Takes each request and drops it; CTRL reads 0x00 while the host waits.
    Silent,
    /// B_BUSY stuck at 1; no request is taken.
    StuckBusy,
    /// H2B_ATN is never cleared; nothing is taken.
    NeverClearH2b,
    /// Takes each request (H2B_ATN clears), keeps B_BUSY set and never
    /// answers; when the fault ends the request is dropped and B_BUSY clears.
    /// QEMU's view of an answer that never comes for the awaited msg_id.
    HoldBusy,
    /// Responses take `latency`.
    Slow,
    /// Responses are lost (`count` of them, or all).
    LoseResponses,
    /// Each response lost with probability `per_mille`/1000.
    RandomLoss,
    /// Responses carry a wrong seq (`seq_delta`), maybe corrected later.
    WrongSeq,
    /// The previous response is posted again instead of the right one.
    StaleResponse,
    /// Every response is posted twice.
    DuplicateResponse,
    /// The response length byte is replaced by `len`.
    CorruptLength,
    /// B2H_ATN stuck at 1; the host's clears are ignored (bug B-8).
    StuckB2h,
    /// Every register reads 0xFF (device gone).
    ReadsFf,
    /// Instant: the BMC reboots (busy for its boot time).
    BmcReset,
    /// Instant: every active fault ends.
    Reconnect,
    /// One command (`netfn`, `cmd`) is dropped like `silent`.
    IgnoreCommand,
    /// Every request is answered with completion code `cc`.
    ErrorResponse,
}

impl FaultKindName {
    /// The kebab-case name used in files.
    pub const fn name(self) -> &'static str {
        use FaultKindName as K;
        match self {
            K::Silent => "silent",
            K::StuckBusy => "stuck-busy",
            K::NeverClearH2b => "never-clear-h2b",
            K::HoldBusy => "hold-busy",
            K::Slow => "slow",
            K::LoseResponses => "lose-responses",
            K::RandomLoss => "random-loss",
            K::WrongSeq => "wrong-seq",
            K::StaleResponse => "stale-response",
            K::DuplicateResponse => "duplicate-response",
            K::CorruptLength => "corrupt-length",
            K::StuckB2h => "stuck-b2h",
            K::ReadsFf => "reads-ff",
            K::BmcReset => "bmc-reset",
            K::Reconnect => "reconnect",
            K::IgnoreCommand => "ignore-command",
            K::ErrorResponse => "error-response",
        }
    }
}

/// Serde for a [`KernelPreset`] field: its name (`"v4.19"`); an unknown name
/// is an error listing [`KernelPreset::NAMES`].
mod kernel_name {
    use super::{named, KernelPreset};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(p: &KernelPreset, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(p.name)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<KernelPreset, D::Error> {
        named(
            d,
            "a kernel preset name",
            KernelPreset::NAMES,
            KernelPreset::from_name,
        )
    }
}

/// Serde for an optional [`SiProfile`] field: its name (`"v2014"`); an unknown
/// name is an error listing [`SiProfile::NAMES`].
mod si_name {
    use super::{named, SiProfile};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(p: &Option<SiProfile>, s: S) -> Result<S::Ok, S::Error> {
        match p {
            Some(p) => s.serialize_some(p.name),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SiProfile>, D::Error> {
        named(
            d,
            "an SI profile name",
            SiProfile::NAMES,
            SiProfile::from_name,
        )
        .map(Some)
    }
}

/// A value written as one of `names`, looked up with `find`. It is read as
/// a unit enum variant, as when these were enums, so every error is serde's
/// own (`unknown variant `x`, expected one of ...`, `wanted string or table`).
fn named<'de, D: Deserializer<'de>, T>(
    d: D,
    what: &'static str,
    names: &'static [&'static str],
    find: fn(&str) -> Option<T>,
) -> Result<T, D::Error> {
    use serde::de::{EnumAccess, Error, VariantAccess};
    struct V<T> {
        what: &'static str,
        names: &'static [&'static str],
        find: fn(&str) -> Option<T>,
    }
    impl<'de, T> serde::de::Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.what)
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<T, E> {
            (self.find)(v).ok_or_else(|| E::unknown_variant(v, self.names))
        }
        fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<T, A::Error> {
            let (name, variant): (String, _) = data.variant()?;
            let v =
                (self.find)(&name).ok_or_else(|| A::Error::unknown_variant(&name, self.names))?;
            variant.unit_variant()?;
            Ok(v)
        }
    }
    d.deserialize_enum(what, names, V { what, names, find })
}

/// CONFIG_HZ: one of 100, 250, 300, 1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Hz(pub u32);

impl Default for Hz {
    fn default() -> Self {
        Self(250)
    }
}

impl<'de> Deserialize<'de> for Hz {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        match v {
            100 | 250 | 300 | 1000 => Ok(Self(v as u32)),
            _ => Err(serde::de::Error::custom(format!(
                "HZ must be 100, 250, 300 or 1000 (the kernel's CONFIG_HZ choices), got {v}"
            ))),
        }
    }
}

/// A duration in nanoseconds, written in files as a number with a unit:
/// `"250us"`, `"10ms"`, `"5s"`, `"1.5s"`, `"2min"`, `"24h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub u64);

impl Dur {
    /// `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms * 1_000_000)
    }
    /// `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        Self(s * 1_000_000_000)
    }
    /// Nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Parse `"<number><unit>"`; see the type docs.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.starts_with('-') {
            return Err(format!(
                "invalid duration {s:?}: durations cannot be negative (use e.g. \"0.5s\")"
            ));
        }
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| {
                format!(
                    "invalid duration {s:?}: missing unit (ns, us, ms, s, min, h), e.g. \"10ms\""
                )
            })?;
        let (num, unit) = t.split_at(split);
        let mult: u64 = match unit.trim() {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "min" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => {
                return Err(format!(
                    "invalid duration {s:?}: unknown unit {other:?} (use ns, us, ms, s, min or h)"
                ))
            }
        };
        if num.is_empty() || num == "." {
            return Err(format!(
                "invalid duration {s:?}: missing number before the unit"
            ));
        }
        let (int, frac) = match num.split_once('.') {
            Some((i, f)) => (i, f),
            None => (num, ""),
        };
        let overflow = || {
            format!(
                "invalid duration {s:?}: too large (at most {}h)",
                u64::MAX / 3_600_000_000_000
            )
        };
        let bad = || format!("invalid duration {s:?}: not a number");
        let int_v: u64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| bad())?
        };
        let mut ns = int_v.checked_mul(mult).ok_or_else(overflow)?;
        if !frac.is_empty() {
            if frac.contains('.') {
                return Err(bad());
            }
            // Fractional part, exact to the nanosecond where representable.
            let mut scale = mult;
            for ch in frac.chars() {
                let d = ch.to_digit(10).ok_or_else(bad)? as u64;
                scale /= 10;
                ns = ns.checked_add(d * scale).ok_or_else(overflow)?;
            }
        }
        Ok(Self(ns))
    }
}

impl fmt::Display for Dur {
    /// The shortest exact unit form: `5s`, `10ms`, `1500ms`, `250us`, `3ns`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            return f.write_str("0s");
        }
        for (unit, m) in [
            ("h", 3_600_000_000_000u64),
            ("min", 60_000_000_000),
            ("s", 1_000_000_000),
            ("ms", 1_000_000),
            ("us", 1_000),
        ] {
            if ns % m == 0 {
                return write!(f, "{}{unit}", ns / m);
            }
        }
        write!(f, "{ns}ns")
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"10ms\", \"5s\" or \"24h\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Dur, E> {
                Dur::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// A scenario that could not be loaded: where (line, column, field) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// File the scenario came from, when loaded with [`Scenario::load`].
    pub path: Option<PathBuf>,
    /// 1-based line of the offending value, when known.
    pub line: Option<usize>,
    /// 1-based column of the offending value, when known.
    pub column: Option<usize>,
    /// Dotted key path of the offending field (`driver.hz`, `fault[2].at`), when known.
    pub field: Option<String>,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}: ", p.display())?;
        }
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {c}: ")?,
            (Some(l), None) => write!(f, "line {l}: ")?,
            _ => {}
        }
        if let Some(field) = &self.field {
            write!(f, "field {field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based (line, column) of byte offset `pos` in `src`.
fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(src.len());
    let before = src.get(..pos).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The dotted key path of the value on 1-based `line`: the key before `=` on that
/// line, prefixed with the innermost `[table]` / `[[array]]` header above it
/// (array entries numbered from 1, as a person counts them).
fn field_at_line(src: &str, line: usize) -> Option<String> {
    let mut header: Option<String> = None;
    let mut counts: Vec<(String, usize)> = Vec::new();
    for (i, raw) in src.lines().enumerate() {
        let l = raw.trim();
        if l.starts_with("[[") {
            let name = l
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
            let n = match counts.iter_mut().find(|(k, _)| *k == name) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    counts.push((name.clone(), 1));
                    1
                }
            };
            header = Some(format!("{name}[{n}]"));
        } else if l.starts_with('[') {
            header = Some(
                l.trim_start_matches('[')
                    .split(']')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned(),
            );
        }
        if i + 1 == line {
            let key = l
                .split_once('=')
                .map(|(k, _)| k.trim().to_owned())
                .filter(|k| !k.is_empty() && !k.starts_with('['));
            return match (header, key) {
                (Some(h), Some(k)) => Some(format!("{h}.{k}")),
                (None, Some(k)) => Some(k),
                (Some(h), None) => Some(h),
                (None, None) => None,
            };
        }
    }
    None
}

impl ScenarioError {
    fn at(src: &str, span: Option<core::ops::Range<usize>>, mut message: String) -> Self {
        let (line, column, mut field) = match span {
            Some(r) => {
                let (l, c) = line_col(src, r.start);
                (Some(l), Some(c), field_at_line(src, l))
            }
            None => (None, None, None),
        };
        // serde names Rust types; say the range a person can write instead.
        for (ty, range) in [
            (
                "expected u8",
                "expected an integer from 0 to 255 (0x00-0xFF)",
            ),
            ("expected u16", "expected an integer from 0 to 65535"),
            ("expected u32", "expected an integer from 0 to 4294967295"),
            (
                "expected u64",
                "expected an integer from 0 to 9223372036854775807",
            ),
        ] {
            if message.ends_with(ty) {
                message = format!("{}{range}", message.trim_end_matches(ty));
            }
        }
        if message == "number too large to fit in target type" {
            message = "number too large: TOML integers go up to 9223372036854775807".into();
        }
        // A missing key is reported at the start of its table: name the key
        // itself (under the table's header, if the table has one).
        if let Some(key) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.strip_suffix('`'))
            .map(str::to_owned)
        {
            let header_line = line
                .and_then(|l| src.lines().nth(l.saturating_sub(1)))
                .is_some_and(|l| l.trim_start().starts_with('['));
            field = match field.filter(|_| header_line) {
                Some(table) => Some(format!("{table}.{key}")),
                None => Some(key.clone()),
            };
            let hint = match key.as_str() {
                "stop" => " (the simulated run length, e.g. stop = \"60s\")",
                "name" => " (an identifier shown in traces, e.g. name = \"my-run\")",
                "kind" => " (the fault kind, e.g. kind = \"silent\")",
                "netfn" => " (the request NetFn, e.g. netfn = 0x06)",
                "cmd" => " (the command code, e.g. cmd = 0x01)",
                _ => "",
            };
            message = format!("missing required key `{key}`{hint}");
        }
        Self {
            path: None,
            line,
            column,
            field,
            message,
        }
    }

    fn semantic(field: String, message: impl Into<String>) -> Self {
        Self {
            path: None,
            line: None,
            column: None,
            field: Some(field),
            message: message.into(),
        }
    }
}

impl Scenario {
    /// Parse and validate a scenario from TOML text.
    pub fn from_toml_str(src: &str) -> Result<Self, ScenarioError> {
        let sc: Scenario = toml::from_str(src)
            .map_err(|e| ScenarioError::at(src, e.span(), e.message().to_owned()))?;
        sc.validate().map_err(|mut e| {
            // Point semantic errors at the line of their field when we can find it.
            if let Some(field) = e.field.clone() {
                if let Some(line) = find_field_line(src, &field) {
                    e.line = Some(line);
                }
            }
            e
        })?;
        Ok(sc)
    }

    /// Read, parse and validate a scenario file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let path = path.as_ref();
        let src = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            path: Some(path.to_owned()),
            line: None,
            column: None,
            field: None,
            message: format!("cannot read scenario file: {e}"),
        })?;
        Self::from_toml_str(&src).map_err(|mut e| {
            e.path = Some(path.to_owned());
            e
        })
    }

    /// The scenario as a TOML document that [`from_toml_str`](Self::from_toml_str)
    /// reads back to an equal value (used to print shrunk counterexamples).
    pub fn to_toml_string(&self) -> String {
        // Serialising plain structs of strings/integers/arrays cannot fail; fall
        // back to a comment rather than panicking if it ever does.
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot serialise scenario: {e}\n"))
    }

    /// Cross-field checks that serde cannot express.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        if let Some(bt) = &self.driver.bt {
            if ipmi_bt_sm::KernelProfile::from_name(bt).is_none() {
                let names: Vec<&str> = ipmi_bt_sm::KernelProfile::ALL
                    .iter()
                    .map(|p| p.name())
                    .collect();
                return Err(ScenarioError::semantic(
                    "driver.bt".into(),
                    format!(
                        "unknown BT profile {bt:?}, expected one of {}",
                        names.join(", ")
                    ),
                ));
            }
        }
        if let Some(w) = &self.bmc.watchdog {
            if w.parse::<ipmi_watchdog::CompatProfile>().is_err() {
                let names: Vec<&str> = ipmi_watchdog::CompatProfile::ALL
                    .iter()
                    .map(|p| p.cli_name())
                    .collect();
                return Err(ScenarioError::semantic(
                    "bmc.watchdog".into(),
                    format!(
                        "unknown watchdog profile {w:?}, expected one of {}",
                        names.join(", ")
                    ),
                ));
            }
        }
        if self.stop.0 == 0 {
            return Err(ScenarioError::semantic(
                "stop".into(),
                "stop must be greater than 0s",
            ));
        }
        if self.stop.0 > 366 * 24 * 3_600_000_000_000 {
            return Err(ScenarioError::semantic(
                "stop".into(),
                "stop must be at most one year of simulated time",
            ));
        }
        for (i, r) in self.requests.iter().enumerate() {
            let f = |k: &str| format!("request[{}].{k}", i + 1);
            if r.netfn & 1 != 0 {
                return Err(ScenarioError::semantic(
                    f("netfn"),
                    format!(
                        "netfn 0x{:02X} is a response NetFn (odd); use the request NetFn 0x{:02X}",
                        r.netfn,
                        r.netfn & !1
                    ),
                ));
            }
            if r.netfn > 0x3F {
                return Err(ScenarioError::semantic(
                    f("netfn"),
                    format!("netfn 0x{:02X} exceeds 6 bits (max 0x3F)", r.netfn),
                ));
            }
            if r.data.len() > 270 {
                return Err(ScenarioError::semantic(
                    f("data"),
                    format!(
                        "{} data bytes exceed the 272-byte IPMI message limit",
                        r.data.len()
                    ),
                ));
            }
            if r.repeat == 0 {
                return Err(ScenarioError::semantic(
                    f("repeat"),
                    "repeat must be at least 1",
                ));
            }
            if r.repeat > 10_000_000 {
                return Err(ScenarioError::semantic(
                    f("repeat"),
                    "repeat must be at most 10000000",
                ));
            }
            if r.interval == Some(Dur(0)) {
                return Err(ScenarioError::semantic(
                    f("interval"),
                    "interval must be greater than 0s (omit it for back-to-back copies)",
                ));
            }
        }
        for (i, fl) in self.faults.iter().enumerate() {
            let f = |k: &str| format!("fault[{}].{k}", i + 1);
            match (fl.at, fl.at_command) {
                (Some(_), Some(_)) => {
                    return Err(ScenarioError::semantic(
                        f("at_command"),
                        "give either `at` or `at_command`, not both",
                    ))
                }
                (None, None) => {
                    return Err(ScenarioError::semantic(
                        f("kind"),
                        "missing start: give `at = \"<time>\"` or `at_command = <n>`",
                    ))
                }
                (None, Some(0)) => {
                    return Err(ScenarioError::semantic(
                        f("at_command"),
                        "at_command counts from 1",
                    ))
                }
                _ => {}
            }
            if fl.duration == Some(Dur(0)) {
                return Err(ScenarioError::semantic(
                    f("duration"),
                    "duration must be greater than 0s (omit it for \"until the end\")",
                ));
            }
            use FaultKindName as K;
            let params: [(&str, bool, &[FaultKindName]); 10] = [
                ("latency", fl.latency.is_some(), &[K::Slow]),
                ("count", fl.count.is_some(), &[K::LoseResponses]),
                ("per_mille", fl.per_mille.is_some(), &[K::RandomLoss]),
                ("seq_delta", fl.seq_delta.is_some(), &[K::WrongSeq]),
                (
                    "correct_after",
                    fl.correct_after.is_some(),
                    &[K::WrongSeq, K::StaleResponse],
                ),
                ("len", fl.len.is_some(), &[K::CorruptLength]),
                ("keep_watchdog", fl.keep_watchdog.is_some(), &[K::BmcReset]),
                ("netfn", fl.netfn.is_some(), &[K::IgnoreCommand]),
                ("cmd", fl.cmd.is_some(), &[K::IgnoreCommand]),
                ("cc", fl.cc.is_some(), &[K::ErrorResponse]),
            ];
            for (key, present, kinds) in params {
                if present && !kinds.contains(&fl.kind) {
                    return Err(ScenarioError::semantic(
                        f(key),
                        format!("`{key}` does not apply to fault kind {}", fl.kind.name()),
                    ));
                }
            }
            let need = |key: &str, present: bool| {
                if present {
                    Ok(())
                } else {
                    Err(ScenarioError::semantic(
                        f("kind"),
                        format!("fault kind {} needs `{key}`", fl.kind.name()),
                    ))
                }
            };
            match fl.kind {
                K::Slow => need("latency", fl.latency.is_some())?,
                K::RandomLoss => need("per_mille", fl.per_mille.is_some())?,
                K::WrongSeq => need("seq_delta", fl.seq_delta.is_some())?,
                K::CorruptLength => need("len", fl.len.is_some())?,
                K::IgnoreCommand => need("netfn and cmd", fl.netfn.is_some() && fl.cmd.is_some())?,
                K::ErrorResponse => need("cc", fl.cc.is_some())?,
                K::BmcReset | K::Reconnect if fl.duration.is_some() => {
                    return Err(ScenarioError::semantic(
                        f("duration"),
                        format!(
                            "fault kind {} is instantaneous; remove `duration`",
                            fl.kind.name()
                        ),
                    ))
                }
                _ => {}
            }
            if fl.per_mille.is_some_and(|p| p > 1000) {
                return Err(ScenarioError::semantic(
                    f("per_mille"),
                    "per_mille must be at most 1000",
                ));
            }
        }
        Ok(())
    }
}

/// Line of a dotted field path such as `fault[2].at` (entry numbers 1-based).
fn find_field_line(src: &str, field: &str) -> Option<usize> {
    let (table, key) = match field.rsplit_once('.') {
        Some((t, k)) => (Some(t), k),
        None => (None, field),
    };
    let (tname, want_n) = match table {
        Some(t) => match t.split_once('[') {
            Some((n, rest)) => (Some(n), rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (Some(t), None),
        },
        None => (None, None),
    };
    let mut cur: Option<String> = None;
    let mut n = 0usize;
    let mut in_target = tname.is_none();
    let mut header_line = None;
    for (i, raw) in src.lines().enumerate() {
        let l = raw.trim();
        if l.starts_with('[') {
            let name = l
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
            if Some(name.as_str()) == tname {
                n += 1;
            }
            in_target = Some(name.as_str()) == tname && want_n.is_none_or(|w| w == n);
            if in_target {
                header_line = Some(i + 1);
            }
            cur = Some(name);
            continue;
        }
        let _ = &cur;
        if in_target {
            if let Some((k, _)) = l.split_once('=') {
                if k.trim() == key {
                    return Some(i + 1);
                }
            }
        }
    }
    header_line
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
stop = "30s"

[driver]
kernel = "v3.13"
hz = 1000

[[request]]
at = "1s"
netfn = 0x06
cmd = 0x01

[[fault]]
kind = "silent"
at_command = 256
duration = "1.5s"
"#;

    #[test]
    fn parses_and_round_trips() {
        let s = Scenario::from_toml_str(GOOD).unwrap();
        assert_eq!(s.driver.kernel, KernelPreset::V3_13);
        assert_eq!(s.driver.hz, Hz(1000));
        assert_eq!(s.faults[0].at_command, Some(256));
        assert_eq!(s.faults[0].duration, Some(Dur(1_500_000_000)));
        let back = Scenario::from_toml_str(&s.to_toml_string()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn preset_names_match_the_file_format() {
        for &p in KernelPreset::ALL {
            let src = format!("name = \"x\"\nstop = \"1s\"\n[driver]\nkernel = \"{p}\"\n");
            let sc = Scenario::from_toml_str(&src).unwrap();
            assert_eq!(sc.driver.kernel, p);
            assert_eq!(KernelPreset::from_name(p.name), Some(p));
            assert_eq!(Scenario::from_toml_str(&sc.to_toml_string()).unwrap(), sc);
        }
        assert_eq!(KernelPreset::from_name("v9"), None);
        for s in SiProfile::ALL {
            let src = format!(
                "name = \"x\"\nstop = \"1s\"\n[driver]\nsi = \"{}\"\n",
                s.name
            );
            let sc = Scenario::from_toml_str(&src).unwrap();
            assert_eq!(sc.driver.si, Some(s));
            assert_eq!(Scenario::from_toml_str(&sc.to_toml_string()).unwrap(), sc);
        }
        let e = Scenario::from_toml_str("name = \"x\"\nstop = \"1s\"\n[driver]\nsi = \"v2099\"\n")
            .unwrap_err();
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(4), Some("driver.si")),
            "{e}"
        );
        assert!(
            e.message
                .ends_with("unknown variant `v2099`, expected one of `pre-2014`, `v2014`, `v2016`, `v2020`, `current`"),
            "{e}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(Dur::parse("10ms").unwrap(), Dur(10_000_000));
        assert_eq!(Dur::parse("1.25s").unwrap(), Dur(1_250_000_000));
        assert_eq!(Dur::parse("24h").unwrap(), Dur(86_400_000_000_000));
        assert_eq!(Dur::parse("250us").unwrap().to_string(), "250us");
        assert_eq!(Dur(1_500_000_000).to_string(), "1500ms");
        assert!(Dur::parse("10").unwrap_err().contains("missing unit"));
        assert!(Dur::parse("10 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(Dur::parse("ms").unwrap_err().contains("missing number"));
        assert!(Dur::parse("99999999999999h")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn bad_hz_names_line_and_field() {
        let src = GOOD.replace("hz = 1000", "hz = 123");
        let e = Scenario::from_toml_str(&src).unwrap_err();
        assert_eq!(e.line, Some(7), "{e}");
        assert_eq!(e.field.as_deref(), Some("driver.hz"));
        assert!(e.message.contains("100, 250, 300 or 1000"), "{e}");
    }

    #[test]
    fn bad_duration_names_line_and_field() {
        let src = GOOD.replace("duration = \"1.5s\"", "duration = \"1.5 fortnights\"");
        let e = Scenario::from_toml_str(&src).unwrap_err();
        assert_eq!(e.line, Some(17), "{e}");
        assert_eq!(e.field.as_deref(), Some("fault[1].duration"));
        assert!(
            e.to_string()
                .starts_with("line 17, column 12: field fault[1].duration: invalid duration"),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_and_variant() {
        let e = Scenario::from_toml_str(&GOOD.replace("cmd = 0x01", "cmd = 0x01\ncommand = 3"))
            .unwrap_err();
        assert_eq!(e.line, Some(13), "{e}");
        assert!(e.message.contains("unknown field `command`"), "{e}");
        let e = Scenario::from_toml_str(&GOOD.replace("\"v3.13\"", "\"v9.99\"")).unwrap_err();
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(6), Some("driver.kernel")),
            "{e}"
        );
        assert!(e.message.contains("unknown variant"), "{e}");
    }

    #[test]
    fn semantic_errors_point_at_field() {
        let e = Scenario::from_toml_str(
            &GOOD.replace("at_command = 256", "at_command = 256\nat = \"2s\""),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("fault[1].at_command"));
        assert_eq!(e.line, Some(16), "{e}");
        let e = Scenario::from_toml_str(&GOOD.replace("netfn = 0x06", "netfn = 0x07")).unwrap_err();
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(11), Some("request[1].netfn")),
            "{e}"
        );
        let e = Scenario::from_toml_str("name = \"x\"\nstop = \"0s\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(2), Some("stop")), "{e}");
    }

    #[test]
    fn missing_keys_are_named_with_their_table() {
        let e = Scenario::from_toml_str("name = \"x\"\n").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("stop"), "{e}");
        assert!(e.to_string().contains("missing required key `stop`"), "{e}");
        assert!(e.to_string().contains("e.g. stop = \"60s\""), "{e}");
        let e = Scenario::from_toml_str(
            "name = \"x\"\nstop = \"1s\"\n[[request]]\nnetfn = 6\ncmd = 1\n[[request]]\ncmd = 1\nnetfn = 6\n[[fault]]\nat = \"1s\"\n",
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("fault[1].kind"), "{e}");
        assert_eq!(e.line, Some(9), "{e}");
        let e = Scenario::from_toml_str("name = \"x\"\nstop = \"1s\"\n[[request]]\nnetfn = 6\n")
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("request[1].cmd"), "{e}");
    }

    #[test]
    fn out_of_range_integers_say_the_range() {
        let e = Scenario::from_toml_str(&GOOD.replace("cmd = 0x01", "cmd = 0x100")).unwrap_err();
        assert!(
            e.to_string().ends_with(
                "invalid value: integer `256`, expected an integer from 0 to 255 (0x00-0xFF)"
            ),
            "{e}"
        );
        let e = Scenario::from_toml_str("name = \"x\"\nstop = \"1s\"\nseed = -1\n").unwrap_err();
        assert!(
            e.to_string().contains("from 0 to 9223372036854775807"),
            "{e}"
        );
    }

    #[test]
    fn negative_and_oversized_durations_say_why() {
        assert!(Dur::parse("-1s")
            .unwrap_err()
            .contains("cannot be negative"));
        assert!(Dur::parse(".s").unwrap_err().contains("missing number"));
        let e = Dur::parse("99999999h").unwrap_err();
        assert!(e.contains("too large (at most 5124095h)"), "{e}");
        assert_eq!(
            Dur::parse("5124095h").unwrap(),
            Dur(5_124_095 * 3_600_000_000_000)
        );
    }

    #[test]
    fn syntax_error_has_line() {
        let e =
            Scenario::from_toml_str("name = \"x\"\nstop = \"1s\"\n[driver\nhz=250\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
    }
}
