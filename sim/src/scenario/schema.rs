//! Scenario files: a workload, a fault schedule, a driver (kernel) profile and a
//! BMC configuration, written in TOML, that [`run`](crate::scenario::run) turns into a
//! [`Trace`](crate::scenario::Trace).
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
use core::time::Duration;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use crate::bmc::fault::{FaultEntry, FaultSpecError, FaultTiming, ParamDecl, ParamType};
pub use crate::bmc::fault::{FaultKind, FaultParams, ParamValue};

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
    #[serde(with = "super::duration_text")]
    pub stop: Duration,
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
    /// A petting daemon in host userspace (`[daemon]`); a watchdog expiry
    /// then resets the host and ends the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon: Option<super::DaemonSpec>,
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
    /// `current`, `proposed`).
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
    #[serde(
        default,
        with = "super::duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub unload_at: Option<Duration>,
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
    #[serde(
        default,
        with = "super::duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub latency: Option<Duration>,
    /// Time from the host's H2B_ATN to the BMC taking the request.
    #[serde(
        default,
        with = "super::duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub take_latency: Option<Duration>,
    /// Extra random response delay, uniform in 0..=jitter (seeded).
    #[serde(
        default,
        with = "super::duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub jitter: Option<Duration>,
    /// How long B_BUSY stays set after a BMC reset.
    #[serde(
        default,
        with = "super::duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub boot_time: Option<Duration>,
    /// Keep B_BUSY set from taking a request until the response (QEMU) or
    /// only while reading it (Aspeed `bt-bmc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b_busy_until_response: Option<bool>,
    /// Let an answer wait until the host has freed BMC2HOST (Aspeed `bt-bmc`;
    /// `openbmc` preset) instead of loading it as soon as it is ready (QEMU)
    /// ([`crate::bmc::config::BmcConfig::post_waits_for_host`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_waits_for_host: Option<bool>,
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
    /// QEMU `isa-ipmi-bt` + `ipmi-bmc-extern` + a BMC on the VM link
    /// ([`BmcConfig::qemu_extern`](crate::BmcConfig::qemu_extern)).
    QemuExtern,
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
    #[serde(
        default,
        with = "super::duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub at: Option<Duration>,
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
    #[serde(
        default,
        with = "super::duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub interval: Option<Duration>,
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
///
/// `kind` and its parameters are declared once, in the BMC core
/// (`sim/src/bmc/fault.rs`, see [`FaultKind`]); this entry holds them as
/// given. Read and written as a TOML table by hand-written serde impls (below) that take every
/// parameter any kind declares, typed as declared, and reject other keys.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    /// What the BMC does wrong (its file name: `silent`, `stuck-busy`, …).
    pub kind: FaultKind,
    /// Start time. Exactly one of `at` / `at_command` must be given.
    pub at: Option<Duration>,
    /// Start when the Nth message reaches the BMC (1-based), i.e. at the
    /// host's Nth H2B_ATN 0→1 edge ([`crate::bmc::SimBmc::commands_seen`]):
    /// detect's Get BT Capabilities, probe and SI-internal requests, each
    /// resend after a timeout and the BT soft reset count; requests the host
    /// refuses before writing them (0xC0 during LONG_BUSY, 0xD5 in a wrong
    /// state) do not. The fault already applies to message N.
    pub at_command: Option<u64>,
    /// How long the fault lasts; absent = until the end of the run.
    pub duration: Option<Duration>,
    /// The kind's parameters (`latency`, `count`, …; see [`FaultKind::params`]).
    pub params: FaultParams,
}

impl FaultSpec {
    /// A fault of `kind` starting at command `n`, without parameters.
    pub fn at_command(kind: FaultKind, n: u64) -> Self {
        Self {
            kind,
            at: None,
            at_command: Some(n),
            duration: None,
            params: FaultParams::new(),
        }
    }

    /// The BMC's plan entry for this fault, checked against the kind's
    /// declaration ([`FaultEntry::lower`]).
    pub fn entry(&self) -> Result<FaultEntry, FaultSpecError> {
        FaultEntry::lower(
            self.kind,
            &self.params,
            FaultTiming {
                at: self.at,
                at_command: self.at_command,
                duration: self.duration,
            },
        )
    }
}

/// A file-format duration as one serde value (`"1.5s"`), for the
/// hand-written `[[fault]]` table impls below.
struct DurText(Duration);

impl Serialize for DurText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        super::duration_text::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for DurText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::duration_text::deserialize(d).map(DurText)
    }
}

/// The keys of a `[[fault]]` table besides the parameters.
const FAULT_TIMING_KEYS: [&str; 4] = ["kind", "at", "at_command", "duration"];

/// Every key a `[[fault]]` table may have, for "unknown field" messages.
fn fault_keys() -> &'static [&'static str] {
    static KEYS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = FAULT_TIMING_KEYS.to_vec();
        for k in FaultKind::ALL {
            for p in k.params() {
                if !keys.contains(&p.name) {
                    keys.push(p.name);
                }
            }
        }
        keys
    })
}

impl Serialize for FaultSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let n = 1
            + usize::from(self.at.is_some())
            + usize::from(self.at_command.is_some())
            + usize::from(self.duration.is_some())
            + self.params.iter().count();
        let mut st = s.serialize_struct("FaultSpec", n)?;
        st.serialize_field("kind", &self.kind)?;
        if let Some(at) = self.at {
            st.serialize_field("at", &DurText(at))?;
        }
        if let Some(n) = &self.at_command {
            st.serialize_field("at_command", n)?;
        }
        if let Some(d) = self.duration {
            st.serialize_field("duration", &DurText(d))?;
        }
        for (name, v) in self.params.iter() {
            match v {
                ParamValue::Duration(d) => st.serialize_field(name, &DurText(d))?,
                ParamValue::U8(x) => st.serialize_field(name, &x)?,
                ParamValue::U16(x) => st.serialize_field(name, &x)?,
                ParamValue::U32(x) => st.serialize_field(name, &x)?,
                ParamValue::Bool(x) => st.serialize_field(name, &x)?,
            }
        }
        st.end()
    }
}

/// A key of a `[[fault]]` table; an unknown key fails here, so the error
/// points at the key.
enum FaultKey {
    Kind,
    At,
    AtCommand,
    Duration,
    Param(&'static ParamDecl),
}

impl<'de> Deserialize<'de> for FaultKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = FaultKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a fault key")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FaultKey, E> {
                Ok(match v {
                    "kind" => FaultKey::Kind,
                    "at" => FaultKey::At,
                    "at_command" => FaultKey::AtCommand,
                    "duration" => FaultKey::Duration,
                    _ => FaultKey::Param(
                        FaultKind::any_param(v).ok_or_else(|| E::unknown_field(v, fault_keys()))?,
                    ),
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'de> Deserialize<'de> for FaultSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = FaultSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a [[fault]] table")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<FaultSpec, A::Error> {
                use serde::de::Error;
                let mut kind = None;
                let (mut at, mut at_command, mut duration) = (None, None, None);
                let mut params = FaultParams::new();
                while let Some(key) = m.next_key::<FaultKey>()? {
                    match key {
                        FaultKey::Kind => kind = Some(m.next_value::<FaultKind>()?),
                        FaultKey::At => at = Some(m.next_value::<DurText>()?.0),
                        FaultKey::AtCommand => at_command = Some(m.next_value::<u64>()?),
                        FaultKey::Duration => duration = Some(m.next_value::<DurText>()?.0),
                        FaultKey::Param(p) => {
                            let v = match p.ty {
                                ParamType::Duration => {
                                    ParamValue::Duration(m.next_value::<DurText>()?.0)
                                }
                                ParamType::U8 => ParamValue::U8(m.next_value()?),
                                ParamType::U16 => ParamValue::U16(m.next_value()?),
                                ParamType::U32 => ParamValue::U32(m.next_value()?),
                                ParamType::Bool => ParamValue::Bool(m.next_value()?),
                            };
                            params.set(p.name, v);
                        }
                    }
                }
                Ok(FaultSpec {
                    kind: kind.ok_or_else(|| A::Error::missing_field("kind"))?,
                    at,
                    at_command,
                    duration,
                    params,
                })
            }
        }
        d.deserialize_struct("FaultSpec", &FAULT_TIMING_KEYS, V)
    }
}

/// Serde for a [`KernelPreset`] field: its name (`"v4.19"`); an unknown name
/// is an error listing [`KernelPreset::NAMES`].
mod kernel_name {
    use super::{named, KernelPreset};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(p: &KernelPreset, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(p.name)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<KernelPreset, D::Error> {
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

    pub(super) fn serialize<S: Serializer>(p: &Option<SiProfile>, s: S) -> Result<S::Ok, S::Error> {
        match p {
            Some(p) => s.serialize_some(p.name),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SiProfile>, D::Error> {
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
        if let Some(d) = &self.daemon {
            d.check()
                .map_err(|(field, msg)| ScenarioError::semantic(field.into(), msg))?;
        }
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
        if self.stop.is_zero() {
            return Err(ScenarioError::semantic(
                "stop".into(),
                "stop must be greater than 0s",
            ));
        }
        if self.stop > Duration::from_secs(366 * 24 * 3600) {
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
            if r.interval == Some(Duration::ZERO) {
                return Err(ScenarioError::semantic(
                    f("interval"),
                    "interval must be greater than 0s (omit it for back-to-back copies)",
                ));
            }
        }
        for (i, fl) in self.faults.iter().enumerate() {
            if let Err(e) = fl.entry() {
                return Err(ScenarioError::semantic(
                    format!("fault[{}].{}", i + 1, e.field),
                    e.message,
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
        assert_eq!(s.faults[0].duration, Some(Duration::from_millis(1500)));
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
                .ends_with("unknown variant `v2099`, expected one of `pre-2014`, `v2014`, `v2016`, `v2020`, `current`, `proposed`"),
            "{e}"
        );
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
    fn syntax_error_has_line() {
        let e =
            Scenario::from_toml_str("name = \"x\"\nstop = \"1s\"\n[driver\nhz=250\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
    }

    #[test]
    fn fault_parameters_follow_the_declaration() {
        let head = "name = \"x\"\nstop = \"1s\"\n[[fault]]\nat = \"1s\"\n";
        let e = Scenario::from_toml_str(&format!("{head}kind = \"silent\"\nlatency = \"1s\"\n"))
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("fault[1].latency"), "{e}");
        assert_eq!(e.line, Some(6), "{e}");
        assert!(e.message.contains("which takes no parameters"), "{e}");
        let e = Scenario::from_toml_str(&format!("{head}kind = \"ignore-command\"\nnetfn = 6\n"))
            .unwrap_err();
        assert!(e.message.ends_with("needs `cmd`"), "{e}");
        let e = Scenario::from_toml_str(&format!("{head}kind = \"slow\"\nlatncy = \"1s\"\n"))
            .unwrap_err();
        assert_eq!((e.line, e.column), (Some(6), Some(1)), "{e}");
        assert!(
            e.message
                .starts_with("unknown field `latncy`, expected one of `kind`"),
            "{e}"
        );
        let e =
            Scenario::from_toml_str(&format!("{head}kind = \"slow\"\nlatency = 5\n")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("fault[1].latency"), "{e}");
        let e =
            Scenario::from_toml_str(&format!("{head}kind = \"random-loss\"\nper_mille = 1001\n"))
                .unwrap_err();
        assert_eq!(e.message, "per_mille must be at most 1000");
        // A NetFn is six bits: 64 would spill into the LUN bits of the frame.
        let e =
            Scenario::from_toml_str(&format!("{head}kind = \"rewrite-response\"\nnetfn = 64\n"))
                .unwrap_err();
        assert_eq!(e.message, "netfn must be at most 63");
        Scenario::from_toml_str(&format!("{head}kind = \"rewrite-response\"\nnetfn = 63\n"))
            .unwrap();
        let sc = Scenario::from_toml_str(&format!(
            "{head}kind = \"wrong-seq\"\nseq_delta = 0xFF\ncorrect_after = \"1.5s\"\nduration = \"2s\"\n"
        ))
        .unwrap();
        assert_eq!(
            Scenario::from_toml_str(&sc.to_toml_string()),
            Ok(sc.clone())
        );
        let plan = sc.fault_plan();
        assert_eq!(
            plan.entries[0].action,
            crate::bmc::fault::FaultAction::StartFor(
                crate::bmc::fault::Fault::WrongSeq {
                    seq_delta: 0xFF,
                    correct_after: Some(core::time::Duration::from_millis(1500)),
                },
                core::time::Duration::from_secs(2),
            )
        );
    }
}
