//! Configuration of the simulated BMC: identity, BT capabilities, timing and
//! policies, with presets for a typical real BMC and for QEMU's built-in one.

use core::time::Duration;

use crate::bmc::device::{BtDeviceConfig, BT_DEFAULT_BUF, BT_MAX_BUF};

/// The fields of the Get Device ID response (IPMI v2.0 §20.1, Table 20-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceIdConfig {
    /// Byte 2: Device ID.
    pub device_id: u8,
    /// Byte 3 bits 3:0: device revision.
    pub device_revision: u8,
    /// Byte 3 bit 7: the device provides Device SDRs.
    pub provides_sdrs: bool,
    /// Byte 4 bits 6:0: major firmware revision.
    pub firmware_major: u8,
    /// Byte 4 bit 7: device firmware update / self-initialisation in progress
    /// ("device unavailable"). Linux only logs it.
    pub update_in_progress: bool,
    /// Byte 5: minor firmware revision, BCD.
    pub firmware_minor_bcd: u8,
    /// Byte 6: IPMI version, BCD nibbles reversed (0x02 = 2.0, 0x51 = 1.5).
    pub ipmi_version: u8,
    /// Byte 7: additional device support bits (0x2F: chassis, bridge, event
    /// generator/receiver, FRU, SEL, SDR, sensor... as the BMC chooses).
    pub additional_support: u8,
    /// Bytes 8–10: IANA manufacturer ID (20 bits, little-endian on the wire).
    pub manufacturer_id: u32,
    /// Bytes 11–12: product ID, little-endian.
    pub product_id: u16,
    /// Bytes 13–16: auxiliary firmware revision (optional; `None` omits it).
    pub aux_firmware_revision: Option<[u8; 4]>,
}

impl Default for DeviceIdConfig {
    /// A plausible BMC: device 0x20 rev 1, firmware 1.23, IPMI 2.0, SEL + SDR +
    /// event receiver support, manufacturer 0x0000 (reserved/unknown), product
    /// 0x0BC1 ("BMC1"-ish), aux revision 00 00 00 00.
    fn default() -> Self {
        Self {
            device_id: 0x20,
            device_revision: 0x01,
            provides_sdrs: false,
            firmware_major: 1,
            update_in_progress: false,
            firmware_minor_bcd: 0x23,
            ipmi_version: 0x02,
            additional_support: 0x2D,
            manufacturer_id: 0,
            product_id: 0x0BC1,
            aux_firmware_revision: Some([0; 4]),
        }
    }
}

impl DeviceIdConfig {
    /// QEMU `ipmi-bmc-sim`: `get_device_id` in `hw/ipmi/ipmi_bmc_sim.c` sends
    /// 11 bytes (no auxiliary revision) with additional support fixed at 0x07
    /// (checked at commit 019fbfa4bc). The property defaults used here
    /// (device id 0x20, revision 0, firmware 0.0, IPMI 2.0, ids 0) are
    /// UNVERIFIED.
    pub fn qemu() -> Self {
        Self {
            device_id: 0x20,
            device_revision: 0,
            provides_sdrs: false,
            firmware_major: 0,
            update_in_progress: false,
            firmware_minor_bcd: 0,
            ipmi_version: 0x02,
            additional_support: 0x07,
            manufacturer_id: 0,
            product_id: 0,
            aux_firmware_revision: None,
        }
    }

    /// The response data (after the completion code).
    pub fn encode(&self, out: &mut [u8; 15]) -> usize {
        let m = self.manufacturer_id.to_le_bytes();
        let p = self.product_id.to_le_bytes();
        let head = [
            self.device_id,
            (self.device_revision & 0x0F) | if self.provides_sdrs { 0x80 } else { 0 },
            (self.firmware_major & 0x7F) | if self.update_in_progress { 0x80 } else { 0 },
            self.firmware_minor_bcd,
            self.ipmi_version,
            self.additional_support,
            m[0],
            m[1],
            m[2] & 0x0F,
            p[0],
            p[1],
        ];
        out[..11].copy_from_slice(&head);
        match self.aux_firmware_revision {
            Some(aux) => {
                out[11..15].copy_from_slice(&aux);
                15
            }
            None => 11,
        }
    }
}

/// The Get BT Interface Capabilities answer (IPMI v2.0 §22.9, bmc-watchdog.md
/// §1.8). Linux `bt_detect` uses `req2rsp_secs` as its per-attempt timeout and
/// `retries` as its retry limit (kernel-bt.md §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtCapabilities {
    /// Number of outstanding requests supported.
    pub outstanding: u8,
    /// Input (request) buffer message size, as reported.
    pub input_size: u8,
    /// Output (response) buffer message size, as reported.
    pub output_size: u8,
    /// BMC request-to-response time, seconds.
    pub req2rsp_secs: u8,
    /// Recommended retries.
    pub retries: u8,
}

impl BtCapabilities {
    /// Default: `01 3F 3F 05 02` — 64-byte buffers reported as "largest length
    /// byte" 63 (phosphor-host-ipmid convention), and 5 s / 2 retries, the same
    /// values Linux uses when the command fails, so a default run behaves like
    /// a kernel whose caps fetch failed.
    pub const DEFAULT: Self = Self {
        outstanding: 1,
        input_size: 0x3F,
        output_size: 0x3F,
        req2rsp_secs: 5,
        retries: 2,
    };
    /// QEMU `ipmi_bt.c` answers `01 FF FF 0A 00` itself (10 s, no retries).
    pub const QEMU: Self = Self {
        outstanding: 1,
        input_size: 0xFF,
        output_size: 0xFF,
        req2rsp_secs: 10,
        retries: 0,
    };
    /// phosphor-host-ipmid `ipmiAppGetBtCapabilities`: `01 3F 3F 0A 01`.
    pub const OPENBMC: Self = Self {
        outstanding: 1,
        input_size: 0x3F,
        output_size: 0x3F,
        req2rsp_secs: 10,
        retries: 1,
    };

    /// The five response data bytes.
    pub const fn encode(&self) -> [u8; 5] {
        [
            self.outstanding,
            self.input_size,
            self.output_size,
            self.req2rsp_secs,
            self.retries,
        ]
    }
}

impl Default for BtCapabilities {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What the BMC does with a request whose framing is wrong: fewer than 4
/// bytes, a length byte that disagrees with the bytes written, or more bytes
/// than the buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MalformedPolicy {
    /// Answer 0xC6 (more bytes than the buffer) or 0xC7 (length mismatch) when
    /// the header (NetFn, Seq, Cmd) is complete, otherwise drop it.
    #[default]
    Respond,
    /// Drop it: B_BUSY clears, no response.
    Drop,
    /// QEMU `ipmi_bt_handle_event`: drop it and leave B_BUSY set forever
    /// (until a BMC reset) — the interface is wedged.
    Wedge,
}

/// What the Cold Reset command (App 0x02) does after it has been answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ColdResetBehaviour {
    /// A full BMC reboot (IPMI §20.2): interface cleared, B_BUSY held for the
    /// boot time, watchdog back to its power-on state (Reset answers 0x80).
    #[default]
    Reboot,
    /// QEMU `cold_reset` (`hw/ipmi/ipmi_bmc_sim.c`): Global Enables back to
    /// 0x08 and the interface's interrupt bits cleared; the watchdog keeps
    /// running and there is no boot time.
    InterfaceOnly,
}

/// Everything that defines a simulated BMC.
#[derive(Debug, Clone, PartialEq)]
pub struct BmcConfig {
    /// BT device (buffer size).
    pub device: BtDeviceConfig,
    /// Get Device ID answer.
    pub device_id: DeviceIdConfig,
    /// Get BT Interface Capabilities answer.
    pub bt_caps: BtCapabilities,
    /// Delay from the host setting H2B_ATN to the BMC taking the request
    /// (clearing H2B_ATN, setting B_BUSY). Zero: in the same instant.
    pub take_latency: Duration,
    /// Processing time from taking a request to its response being ready.
    pub response_latency: Duration,
    /// Extra random delay, uniform in `0..=latency_jitter`, added to each
    /// response (drawn from `seed`).
    pub latency_jitter: Duration,
    /// After a BMC reset, B_BUSY stays set this long before the BMC serves
    /// requests again.
    pub boot_time: Duration,
    /// True: B_BUSY stays set from taking a request until its response is
    /// posted (QEMU `ipmi_bt.c`). False: cleared right after the request was
    /// read (Linux `bt-bmc.c` `bt_bmc_read`, real Aspeed BMCs).
    pub b_busy_until_response: bool,
    /// True: an answer waits until the host is done with BMC2HOST (H_BUSY
    /// and B2H_ATN clear; IPMI §11.6.1, Linux `bt-bmc.c` `bt_bmc_write`).
    /// False: it is loaded the moment it is ready, over whatever BMC2HOST
    /// held, as QEMU `ipmi_bt.c` `ipmi_bt_handle_rsp` does. A BMC that both
    /// holds B_BUSY until its answer is posted and lets that answer wait for
    /// the host matches no implementation we know and wedges a Linux host in
    /// LONG_BUSY, which watches B_BUSY and never reads BMC2HOST
    /// (spec-notes/general-search-findings.md §4).
    pub post_waits_for_host: bool,
    /// True (QEMU): a request the firmware takes and never answers
    /// ([`Fault::Silent`], [`Fault::LoseResponses`], [`Fault::RandomLoss`],
    /// [`Fault::IgnoreCommand`]) keeps B_BUSY set, because QEMU `ipmi_bt.c`
    /// clears B_BUSY only in `ipmi_bt_handle_rsp` for the awaited msg_id. The
    /// host then times out with `[ B_BUSY ]` and goes LONG_BUSY. The hold ends
    /// (request dropped, B_BUSY clear, no response) when a fault ends and none
    /// of those faults (nor [`Fault::HoldBusy`]) is still active, at a
    /// `reconnect`, or at a BMC reset. Only with `b_busy_until_response`.
    /// A request the host writes meanwhile (Linux's RESET2 Warm Reset) is
    /// taken at once and supersedes the held one, as QEMU's
    /// `ipmi_bt_ioport_write` hands it to the BMC without latching H2B_ATN.
    /// False: B_BUSY clears when the request is dropped (CTRL reads 0x00).
    ///
    /// [`Fault::Silent`]: crate::bmc::fault::Fault::Silent
    /// [`Fault::LoseResponses`]: crate::bmc::fault::Fault::LoseResponses
    /// [`Fault::RandomLoss`]: crate::bmc::fault::Fault::RandomLoss
    /// [`Fault::IgnoreCommand`]: crate::bmc::fault::Fault::IgnoreCommand
    /// [`Fault::HoldBusy`]: crate::bmc::fault::Fault::HoldBusy
    pub unanswered_holds_b_busy: bool,
    /// True: QEMU's BT device (`hw/ipmi/ipmi_bt.c`) stands between the
    /// registers and the firmware. It answers Get BT Interface Capabilities
    /// itself (`ipmi_bt_handle_event`; no fault of the BMC behind it touches
    /// that answer), owns the BT seq (it keeps the request's seq as
    /// `waiting_seq` and writes it into whatever answer it accepts), and
    /// accepts one answer per msg_id (`ipmi_bt_handle_rsp`: only for
    /// `waiting_rsp`, which then advances): a second copy, a correction or
    /// an answer for a request already answered (by the extern timer, say)
    /// is dropped. A request sent while one is unanswered gets the same
    /// msg_id (nothing advanced it), so a late answer for the earlier one is
    /// taken as the answer to the new one.
    pub qemu_bt_device: bool,
    /// QEMU `ipmi-bmc-extern`'s timer (`hw/ipmi/ipmi_bmc_extern.c`
    /// `continue_send` arms it 4 s after a request is sent; `extern_timeout`
    /// answers 0xC3 for the awaited msg_id; `handle_msg` cancels it on any
    /// well-formed answer, whatever its msg_id). `None`: no timer (QEMU's
    /// `ipmi-bmc-sim`, real BMCs). Only with `qemu_bt_device`.
    pub extern_timeout: Option<Duration>,
    /// Handling of malformed requests.
    pub malformed: MalformedPolicy,
    /// True: a host write of BMC_HWRST=1 resets the BMC (watchdog lost). False
    /// (default, like QEMU): it is only reported. Note Linux `reset_flags`
    /// writes 0x80 at every detect and after long-busy.
    pub honor_hwrst: bool,
    /// True: a BMC reset clears BT_INTMASK (Aspeed, openbmc/openbmc#2519).
    pub reset_clears_intmask: bool,
    /// Watchdog behaviour profile.
    pub watchdog_profile: ipmi_watchdog::CompatProfile,
    /// BMC Global Enables after power-on/reset (IPMI §22.2). Default 0x08
    /// (System Event Logging), like QEMU.
    pub global_enables: u8,
    /// What Cold Reset does.
    pub cold_reset: ColdResetBehaviour,
    /// True: watchdog events reach the SEL only while Global Enables has both
    /// bit 3 (System Event Logging) and bit 2 (Event Message Buffer) set, as in
    /// QEMU `gen_event`. False: bit 3 alone decides (IPMI §22.1).
    pub sel_needs_event_buffer: bool,
    /// True: the BT interrupt line is only driven while Global Enables bit 0
    /// (receive message queue interrupt) is set — QEMU's `irqs_enabled`
    /// (`set_global_enables` → `ipmi_bt_set_irq_enable`). False: B2H_IRQ_EN
    /// alone decides.
    pub irq_needs_global_enable: bool,
    /// Maximum SEL entries; when full, new events are not logged (IPMI §31
    /// "SEL full" without overwrite).
    pub sel_capacity: u16,
    /// SEL timestamp of simulation time zero (seconds since 1970).
    pub sel_epoch: u32,
    /// Seed of every random choice the BMC makes.
    pub seed: u64,
    /// Maximum undrained [`BmcEvent`](crate::bmc::BmcEvent)s kept; older
    /// ones are dropped and counted. Zero disables event recording.
    pub event_capacity: usize,
}

impl Default for BmcConfig {
    /// A healthy "real-ish" BMC: 64-byte buffers, caps `01 3F 3F 05 02`, takes a
    /// request 50 µs after H2B_ATN, answers 1 ms later, B_BUSY until the
    /// response and the response posted as soon as it is ready (both
    /// QEMU-style), 2 s boot time.
    fn default() -> Self {
        Self {
            device: BtDeviceConfig {
                buf_size: BT_DEFAULT_BUF,
            },
            device_id: DeviceIdConfig::default(),
            bt_caps: BtCapabilities::DEFAULT,
            take_latency: Duration::from_micros(50),
            response_latency: Duration::from_millis(1),
            latency_jitter: Duration::ZERO,
            boot_time: Duration::from_secs(2),
            b_busy_until_response: true,
            post_waits_for_host: false,
            unanswered_holds_b_busy: false,
            qemu_bt_device: false,
            extern_timeout: None,
            malformed: MalformedPolicy::Respond,
            honor_hwrst: false,
            reset_clears_intmask: false,
            watchdog_profile: ipmi_watchdog::CompatProfile::Spec,
            cold_reset: ColdResetBehaviour::Reboot,
            sel_needs_event_buffer: false,
            irq_needs_global_enable: false,
            global_enables: 0x08,
            sel_capacity: 512,
            sel_epoch: 0,
            seed: 0,
            event_capacity: 1 << 16,
        }
    }
}

impl BmcConfig {
    /// QEMU `isa-ipmi-bt` + `ipmi-bmc-sim`: 300-byte buffers, caps
    /// `01 FF FF 0A 00`, requests processed synchronously (zero latencies),
    /// malformed requests wedge B_BUSY, an unanswered request keeps B_BUSY
    /// (`unanswered_holds_b_busy`), BMC_HWRST ignored, QEMU watchdog
    /// profile, Cold Reset only resets the interface, SEL logging needs the
    /// event message buffer enabled, no boot time.
    pub fn qemu() -> Self {
        Self {
            device: BtDeviceConfig {
                buf_size: BT_MAX_BUF,
            },
            device_id: DeviceIdConfig::qemu(),
            bt_caps: BtCapabilities::QEMU,
            take_latency: Duration::ZERO,
            response_latency: Duration::ZERO,
            malformed: MalformedPolicy::Wedge,
            unanswered_holds_b_busy: true,
            watchdog_profile: ipmi_watchdog::CompatProfile::Qemu,
            cold_reset: ColdResetBehaviour::InterfaceOnly,
            sel_needs_event_buffer: true,
            irq_needs_global_enable: true,
            boot_time: Duration::ZERO,
            ..Self::default()
        }
    }

    /// QEMU `isa-ipmi-bt` + `ipmi-bmc-extern` + a BMC behind the VM link
    /// (what `tests/vm/` runs with `bmcwd sim serve`): [`qemu`](Self::qemu)
    /// plus QEMU's BT device in front of the firmware (`qemu_bt_device`:
    /// caps answered by the device, seq owned by it, one answer per msg_id;
    /// `hw/ipmi/ipmi_bt.c` `ipmi_bt_handle_event`, `ipmi_bt_handle_rsp`) and
    /// the extern layer's 4 s timer (`hw/ipmi/ipmi_bmc_extern.c`
    /// `continue_send`, `extern_timeout`, `handle_msg`). Buffer limits as
    /// QEMU's: a request frame whose length byte disagrees with the bytes
    /// written, or shorter than 4 bytes, leaves B_BUSY set (`malformed =
    /// wedge`; a frame over the 300-byte buffer always disagrees, as the
    /// length byte tops out at 255); an answer longer than the device's
    /// buffer is replaced by 0xCA. Faults on the BMC are faults behind the
    /// link: `silent` gets QEMU's 0xC3 after 4 s, `link-drop` 0xD2 at once.
    pub fn qemu_extern() -> Self {
        Self {
            qemu_bt_device: true,
            extern_timeout: Some(Duration::from_secs(4)),
            ..Self::qemu()
        }
    }

    /// An OpenBMC system on an Aspeed iBT: caps `01 3F 3F 0A 01`, B_BUSY only
    /// while reading the request and answers that wait for the host to free
    /// BMC2HOST (bt-bmc), a few ms per command, BMC reset clears the
    /// interrupt configuration, phosphor watchdog profile.
    pub fn openbmc() -> Self {
        Self {
            bt_caps: BtCapabilities::OPENBMC,
            take_latency: Duration::from_micros(100),
            response_latency: Duration::from_millis(5),
            b_busy_until_response: false,
            post_waits_for_host: true,
            reset_clears_intmask: true,
            boot_time: Duration::from_secs(60),
            watchdog_profile: ipmi_watchdog::CompatProfile::PhosphorWatchdog,
            ..Self::default()
        }
    }
}
