//! The BT interface hardware: BT_CTRL, the HOST2BMC / BMC2HOST buffers with their
//! pointers, and BT_INTMASK, seen from both sides.
//!
//! Written in the style of rust-vmm/vm-superio: a plain struct with
//! [`read`](BtDevice::read)/[`write`](BtDevice::write) for the host's I/O view,
//! a separate firmware-side API for the simulated BMC ([`crate::bmc::SimBmc`]),
//! an events trait ([`DeviceEvents`]) for observers such as the trace, and a
//! [`DeviceState`] snapshot.
//!
//! # Register rules and where they come from
//!
//! IPMI v2.0 §11.6 (Table 11-1 BT_CTRL, 11-2 BT_INTMASK), cross-checked against
//! QEMU `hw/ipmi/ipmi_bt.c` (`ipmi_bt_ioport_write`, `ipmi_bt_ioport_read`,
//! `ipmi_bt_handle_event`, `ipmi_bt_handle_rsp`) and Linux
//! `drivers/char/ipmi/bt-bmc.c` (the BMC side: `bt_bmc_read`, `bt_bmc_write`,
//! `set_b_busy`, `clr_h2b_atn`, `set_b2h_atn`, `set_sms_atn`):
//!
//! | Bit | Host writes 1 | BMC side (this module's firmware API) |
//! |---|---|---|
//! | CLR_WR_PTR | HOST2BMC write pointer := 0; reads back 0 | — |
//! | CLR_RD_PTR | BMC2HOST read pointer := 0; reads back 0 | — |
//! | H2B_ATN | **sets** it (latched, unlike QEMU which processes synchronously) | cleared by [`BtDevice::take_request`] |
//! | B2H_ATN | **clears** it (write-1-to-clear) | set by [`BtDevice::post_response`] |
//! | SMS_ATN | **clears** it | set by [`BtDevice::set_sms_atn`] |
//! | OEM0 | ignored | [`BtDevice::set_oem0`] |
//! | H_BUSY | **toggles** it (spec; `ipmi_bt_sm.c` comment; QEMU) | read-only; the BMC must not post while set |
//! | B_BUSY | ignored | [`BtDevice::set_b_busy`] (bt-bmc `set_b_busy`) |
//!
//! BT_INTMASK: B2H_IRQ_EN is read/write; B2H_IRQ is raised when the BMC sets
//! B2H_ATN while B2H_IRQ_EN is set, or when the host enables the interrupt while
//! B2H_ATN or SMS_ATN is pending (QEMU `ipmi_bt_ioport_write` offset 2); the host
//! writes 1 to B2H_IRQ to acknowledge; clearing B2H_IRQ_EN drops a pending IRQ.
//! BMC_HWRST (bit 7) reads 0; a written 1 is latched as a request the BMC
//! model may act on ([`BtDevice::take_hwrst_request`]); QEMU ignores it.
//!
//! Buffers: each direction has a buffer of `buf_size` bytes (IPMI §11.6.3
//! requires at least 64). Host writes beyond the buffer are dropped but still
//! counted, so the BMC sees how much the host tried to send (QEMU keeps
//! counting `inlen` too). Host reads past the posted response return 0xFF and do
//! not advance (QEMU `ipmi_bt_ioport_read` returns 0xFF once the message is
//! consumed); CLR_RD_PTR rewinds so a response can be re-read.

use ipmi_bt_sm::regs::{Ctrl, IntMask, BT_BUF_OFFSET, BT_CTRL_OFFSET, BT_INTMASK_OFFSET};

/// Largest buffer the device model supports, in bytes (QEMU `MAX_IPMI_MSG_SIZE`).
pub const BT_MAX_BUF: usize = ipmi_vocab::QEMU_MAX_IPMI_MSG_SIZE;
/// IPMI v2.0 §11.6.3 minimum buffer depth, in bytes (including the length byte).
pub const BT_MIN_BUF: usize = 64;
/// Default buffer size: 64 bytes, what real BMC stacks provide
/// (phosphor-host-ipmid `MAX_IPMI_BUFFER`, btbridged `BT_MAX_MESSAGE`).
pub const BT_DEFAULT_BUF: usize = 64;

/// Static configuration of a [`BtDevice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtDeviceConfig {
    /// Bytes per direction, including the length byte; clamped to
    /// [`BT_MIN_BUF`]..=[`BT_MAX_BUF`].
    pub buf_size: usize,
}

impl Default for BtDeviceConfig {
    fn default() -> Self {
        Self {
            buf_size: BT_DEFAULT_BUF,
        }
    }
}

/// Direction of a register access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessDir {
    /// The host read the register.
    Read,
    /// The host wrote the register.
    Write,
}

/// Which register a host access touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reg {
    /// BT_CTRL (offset 0).
    Ctrl,
    /// BMC2HOST on read / HOST2BMC on write (offset 1).
    Buf,
    /// BT_INTMASK (offset 2).
    IntMask,
    /// An offset outside the three BT registers (reads 0xFF, writes ignored).
    Other(u8),
}

impl Reg {
    /// The register at `offset` from the interface base.
    pub const fn from_offset(offset: u8) -> Self {
        match offset {
            BT_CTRL_OFFSET => Reg::Ctrl,
            BT_BUF_OFFSET => Reg::Buf,
            BT_INTMASK_OFFSET => Reg::IntMask,
            o => Reg::Other(o),
        }
    }
}

/// One host register access, as reported to [`DeviceEvents::register_access`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegAccess {
    /// Read or write.
    pub dir: AccessDir,
    /// The register.
    pub reg: Reg,
    /// The value read (as the host saw it) or written.
    pub value: u8,
}

/// Observer of what happens at the device, for traces and tests.
///
/// All methods default to doing nothing; implement the ones you need.
pub trait DeviceEvents {
    /// A host register access completed.
    fn register_access(&mut self, _access: RegAccess) {}
    /// The BMC-to-host interrupt line changed level.
    fn irq_changed(&mut self, _level: bool) {}
    /// The host wrote BMC_HWRST=1 to BT_INTMASK.
    fn hwrst_requested(&mut self) {}
}

/// The observer that ignores everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoEvents;

impl DeviceEvents for NoEvents {}

impl<E: DeviceEvents + ?Sized> DeviceEvents for &mut E {
    fn register_access(&mut self, access: RegAccess) {
        (**self).register_access(access)
    }
    fn irq_changed(&mut self, level: bool) {
        (**self).irq_changed(level)
    }
    fn hwrst_requested(&mut self) {
        (**self).hwrst_requested()
    }
}

/// Why [`BtDevice::post_response`] refused to load a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PostError {
    /// H_BUSY or B2H_ATN is set: the host has not finished with the previous
    /// response (IPMI §11.6.1; bt-bmc `bt_bmc_write` waits for this).
    HostBusy,
    /// The frame is longer than the BMC2HOST buffer.
    TooLarge,
    /// The frame is empty.
    Empty,
}

/// Complete register-level state of a [`BtDevice`], for snapshot/restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceState {
    /// Latched BT_CTRL bits (H2B_ATN, B2H_ATN, SMS_ATN, OEM0, H_BUSY, B_BUSY).
    pub ctrl: u8,
    /// BT_INTMASK bits B2H_IRQ_EN and B2H_IRQ.
    pub intmask: u8,
    /// HOST2BMC buffer contents.
    pub h2b: [u8; BT_MAX_BUF],
    /// Bytes the host wrote since the last CLR_WR_PTR (may exceed the buffer).
    pub h2b_written: u16,
    /// BMC2HOST buffer contents.
    pub b2h: [u8; BT_MAX_BUF],
    /// Length of the posted response in `b2h`.
    pub b2h_len: u16,
    /// BMC2HOST read pointer.
    pub b2h_rd: u16,
    /// Host set H2B_ATN and the BMC has not looked yet.
    pub h2b_edge: bool,
    /// A BMC_HWRST write is pending.
    pub hwrst_pending: bool,
    /// Fault overlay: every register reads 0xFF, writes are ignored.
    pub gone: bool,
    /// Fault overlay: B2H_ATN forced set, host clears ignored.
    pub b2h_stuck: bool,
    /// B2H_ATN as it was when the stuck overlay started (restored at its end).
    pub b2h_before_stuck: bool,
    /// Fault overlay: B_BUSY forced set.
    pub b_busy_forced: bool,
    /// Level of the interrupt line.
    pub irq_level: bool,
    /// The BMC allows the interrupt line to be driven (QEMU `irqs_enabled`,
    /// set from Global Enables); true unless the BMC model closes it.
    pub irq_gate: bool,
}

/// The BT interface hardware between host and BMC.
///
/// `E` receives register accesses and IRQ changes (see [`DeviceEvents`]).
#[derive(Debug, Clone)]
pub struct BtDevice<E: DeviceEvents = NoEvents> {
    buf_size: usize,
    s: DeviceState,
    /// The BT_CTRL bits the fault overlays force on (B_BUSY for
    /// `b_busy_forced`, B2H_ATN for `b2h_stuck`), kept with them so a
    /// BT_CTRL read is one OR.
    overlay: u8,
    events: E,
}

const LATCHED_CTRL: u8 = Ctrl::H2B_ATN.bits()
    | Ctrl::B2H_ATN.bits()
    | Ctrl::SMS_ATN.bits()
    | Ctrl::OEM0.bits()
    | Ctrl::H_BUSY.bits()
    | Ctrl::B_BUSY.bits();

impl BtDevice<NoEvents> {
    /// A device in its power-on state: all bits clear, buffers empty.
    pub fn new(cfg: BtDeviceConfig) -> Self {
        Self::with_events(cfg, NoEvents)
    }
}

impl<E: DeviceEvents> BtDevice<E> {
    /// Like [`BtDevice::new`], reporting to `events`.
    pub fn with_events(cfg: BtDeviceConfig, events: E) -> Self {
        Self {
            buf_size: cfg.buf_size.clamp(BT_MIN_BUF, BT_MAX_BUF),
            s: DeviceState {
                ctrl: 0,
                intmask: 0,
                h2b: [0; BT_MAX_BUF],
                h2b_written: 0,
                b2h: [0; BT_MAX_BUF],
                b2h_len: 0,
                b2h_rd: 0,
                h2b_edge: false,
                hwrst_pending: false,
                gone: false,
                b2h_stuck: false,
                b2h_before_stuck: false,
                b_busy_forced: false,
                irq_level: false,
                irq_gate: true,
            },
            overlay: 0,
            events,
        }
    }

    /// Buffer size in bytes (per direction, including the length byte).
    pub fn buf_size(&self) -> usize {
        self.buf_size
    }

    /// The observer.
    pub fn events(&self) -> &E {
        &self.events
    }

    /// The observer, mutably.
    pub fn events_mut(&mut self) -> &mut E {
        &mut self.events
    }

    // ----- host view -----------------------------------------------------

    /// Host read of the register at `offset` (0 BT_CTRL, 1 BMC2HOST,
    /// 2 BT_INTMASK; anything else reads 0xFF like QEMU's 4-byte window).
    #[inline]
    pub fn read(&mut self, offset: u8) -> u8 {
        let reg = Reg::from_offset(offset);
        let value = if self.s.gone {
            0xFF
        } else {
            match reg {
                Reg::Ctrl => self.ctrl_view(),
                Reg::Buf => self.read_b2h(),
                Reg::IntMask => self.s.intmask & (IntMask::B2H_IRQ_EN | IntMask::B2H_IRQ).bits(),
                Reg::Other(_) => 0xFF,
            }
        };
        self.events.register_access(RegAccess {
            dir: AccessDir::Read,
            reg,
            value,
        });
        value
    }

    /// Host write of `val` to the register at `offset`.
    #[inline]
    pub fn write(&mut self, offset: u8, val: u8) {
        let reg = Reg::from_offset(offset);
        if !self.s.gone {
            match reg {
                Reg::Ctrl => self.write_ctrl_host(val),
                Reg::Buf => self.write_h2b(val),
                Reg::IntMask => self.write_intmask_host(val),
                Reg::Other(_) => {}
            }
        }
        self.events.register_access(RegAccess {
            dir: AccessDir::Write,
            reg,
            value: val,
        });
    }

    #[inline]
    fn ctrl_view(&self) -> u8 {
        debug_assert_eq!(self.overlay, Self::overlay_of(&self.s));
        (self.s.ctrl & LATCHED_CTRL) | self.overlay
    }

    /// The bits `s`'s fault overlays force on in BT_CTRL.
    fn overlay_of(s: &DeviceState) -> u8 {
        let mut v = 0;
        if s.b_busy_forced {
            v |= Ctrl::B_BUSY.bits();
        }
        if s.b2h_stuck {
            v |= Ctrl::B2H_ATN.bits();
        }
        v
    }

    #[inline]
    fn read_b2h(&mut self) -> u8 {
        let rd = usize::from(self.s.b2h_rd);
        if rd < usize::from(self.s.b2h_len) {
            self.s.b2h_rd += 1;
            self.s.b2h.get(rd).copied().unwrap_or(0xFF)
        } else {
            0xFF
        }
    }

    /// `out.len()` host reads of BMC2HOST (offset 1) in a row: the same
    /// values, pointer movement and observer reports as that many
    /// [`read`](Self::read)s, with one copy instead of a call per byte.
    pub fn read_buf_into(&mut self, out: &mut [u8]) {
        if self.s.gone {
            out.fill(0xFF);
        } else {
            let rd = usize::from(self.s.b2h_rd);
            let n = usize::from(self.s.b2h_len)
                .saturating_sub(rd)
                .min(out.len());
            match (self.s.b2h.get(rd..rd + n), out.split_at_mut_checked(n)) {
                (Some(src), Some((head, tail))) => {
                    head.copy_from_slice(src);
                    tail.fill(0xFF);
                    self.s.b2h_rd += n as u16; // rd + n <= b2h_len
                }
                // Not reached (b2h_len <= BT_MAX_BUF): byte by byte.
                _ => out.iter_mut().for_each(|b| *b = self.read_b2h()),
            }
        }
        for &value in out.iter() {
            self.events.register_access(RegAccess {
                dir: AccessDir::Read,
                reg: Reg::Buf,
                value,
            });
        }
    }

    /// Host writes of `bytes` to HOST2BMC (offset 1) in a row: the same as
    /// that many [`write`](Self::write)s, with one copy instead of a call
    /// per byte.
    pub fn write_buf_from(&mut self, bytes: &[u8]) {
        if !self.s.gone {
            let wr = usize::from(self.s.h2b_written);
            let fit = self.buf_size.saturating_sub(wr).min(bytes.len());
            if let (Some(dst), Some(src)) = (self.s.h2b.get_mut(wr..wr + fit), bytes.get(..fit)) {
                dst.copy_from_slice(src);
            }
            let n = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
            self.s.h2b_written = self.s.h2b_written.saturating_add(n);
        }
        for &value in bytes {
            self.events.register_access(RegAccess {
                dir: AccessDir::Write,
                reg: Reg::Buf,
                value,
            });
        }
    }

    #[inline]
    fn write_h2b(&mut self, val: u8) {
        let wr = usize::from(self.s.h2b_written);
        if wr < self.buf_size {
            if let Some(slot) = self.s.h2b.get_mut(wr) {
                *slot = val;
            }
        }
        self.s.h2b_written = self.s.h2b_written.saturating_add(1);
    }

    #[inline]
    fn write_ctrl_host(&mut self, val: u8) {
        let v = Ctrl::from_bits_retain(val);
        if v.contains(Ctrl::CLR_WR_PTR) {
            self.s.h2b_written = 0;
        }
        if v.contains(Ctrl::CLR_RD_PTR) {
            self.s.b2h_rd = 0;
        }
        if v.contains(Ctrl::H2B_ATN) && self.s.ctrl & Ctrl::H2B_ATN.bits() == 0 {
            self.s.ctrl |= Ctrl::H2B_ATN.bits();
            self.s.h2b_edge = true;
        }
        if v.contains(Ctrl::B2H_ATN) && !self.s.b2h_stuck {
            self.s.ctrl &= !Ctrl::B2H_ATN.bits();
        }
        if v.contains(Ctrl::SMS_ATN) {
            self.s.ctrl &= !Ctrl::SMS_ATN.bits();
        }
        if v.contains(Ctrl::H_BUSY) {
            self.s.ctrl ^= Ctrl::H_BUSY.bits();
        }
        // OEM0 and B_BUSY: no host effect.
    }

    fn write_intmask_host(&mut self, val: u8) {
        let v = IntMask::from_bits_retain(val);
        let was_en = self.s.intmask & IntMask::B2H_IRQ_EN.bits() != 0;
        let en = v.contains(IntMask::B2H_IRQ_EN);
        if en {
            self.s.intmask |= IntMask::B2H_IRQ_EN.bits();
        } else {
            self.s.intmask &= !IntMask::B2H_IRQ_EN.bits();
        }
        if v.contains(IntMask::B2H_IRQ) || !en {
            // Write-1 acknowledge; disabling drops a pending IRQ (QEMU).
            self.s.intmask &= !IntMask::B2H_IRQ.bits();
        }
        if en && !was_en && self.ctrl_view() & (Ctrl::B2H_ATN | Ctrl::SMS_ATN).bits() != 0 {
            self.s.intmask |= IntMask::B2H_IRQ.bits();
        }
        if v.contains(IntMask::BMC_HWRST) {
            self.s.hwrst_pending = true;
            self.events.hwrst_requested();
        }
        self.update_irq();
    }

    fn update_irq(&mut self) {
        let level = self.s.irq_gate
            && self.s.intmask & (IntMask::B2H_IRQ_EN | IntMask::B2H_IRQ).bits()
                == (IntMask::B2H_IRQ_EN | IntMask::B2H_IRQ).bits();
        if level != self.s.irq_level {
            self.s.irq_level = level;
            self.events.irq_changed(level);
        }
    }

    fn raise_irq(&mut self) {
        if self.s.intmask & IntMask::B2H_IRQ_EN.bits() != 0 {
            self.s.intmask |= IntMask::B2H_IRQ.bits();
            self.update_irq();
        }
    }

    // ----- BMC firmware view --------------------------------------------

    /// Latched BT_CTRL as the BMC sees it (fault overlays included).
    #[inline]
    pub fn ctrl(&self) -> Ctrl {
        Ctrl::from_bits_retain(self.ctrl_view())
    }

    /// BT_INTMASK bits B2H_IRQ_EN / B2H_IRQ.
    pub fn intmask(&self) -> IntMask {
        IntMask::from_bits_retain(self.s.intmask)
    }

    /// Level of the BMC-to-host interrupt line (B2H_IRQ_EN and B2H_IRQ both set).
    pub fn irq_line(&self) -> bool {
        self.s.irq_level
    }

    /// True once after the host set H2B_ATN (0→1): the BMC's "H2B rising"
    /// interrupt (bt-bmc `bt_bmc_irq`, BT_CR2_IRQ_H2B).
    #[inline]
    pub fn take_h2b_edge(&mut self) -> bool {
        core::mem::take(&mut self.s.h2b_edge)
    }

    /// Whether [`take_h2b_edge`](Self::take_h2b_edge) or
    /// [`take_hwrst_request`](Self::take_hwrst_request) has something.
    #[inline]
    pub(crate) fn host_news(&self) -> bool {
        self.s.h2b_edge | self.s.hwrst_pending
    }

    /// True once after the host wrote BMC_HWRST=1.
    #[inline]
    pub fn take_hwrst_request(&mut self) -> bool {
        core::mem::take(&mut self.s.hwrst_pending)
    }

    /// Take the request in HOST2BMC, as bt-bmc `bt_bmc_read` does: set B_BUSY,
    /// clear H2B_ATN, copy the buffer into `dst`. Returns how many bytes the
    /// host wrote since CLR_WR_PTR (this can exceed the buffer size, in which
    /// case only [`buf_size`](Self::buf_size) bytes are valid in `dst`).
    pub fn take_request(&mut self, dst: &mut [u8; BT_MAX_BUF]) -> usize {
        let written = self.take_request_in_place();
        *dst = self.s.h2b;
        written
    }

    /// [`take_request`](Self::take_request) without the copy: the request
    /// stays in HOST2BMC ([`request`](Self::request)) until the host writes
    /// again.
    #[inline]
    pub(crate) fn take_request_in_place(&mut self) -> usize {
        self.s.ctrl |= Ctrl::B_BUSY.bits();
        self.s.ctrl &= !Ctrl::H2B_ATN.bits();
        usize::from(self.s.h2b_written)
    }

    /// The HOST2BMC buffer (valid up to the bytes written, see
    /// [`take_request`](Self::take_request)).
    #[inline]
    pub(crate) fn request(&self) -> &[u8; BT_MAX_BUF] {
        &self.s.h2b
    }

    /// The first four bytes of HOST2BMC (length, NetFn/LUN, seq, cmd).
    #[inline]
    pub(crate) fn request_header(&self) -> [u8; 4] {
        let h = &self.s.h2b;
        [h[0], h[1], h[2], h[3]]
    }

    /// True when the BMC may load a response: neither H_BUSY nor B2H_ATN is set
    /// (IPMI §11.6.1; bt-bmc `bt_bmc_write` waits for exactly this).
    #[inline]
    pub fn can_post(&self) -> bool {
        self.ctrl_view() & (Ctrl::H_BUSY | Ctrl::B2H_ATN).bits() == 0
    }

    /// Load `frame` (length byte first) into BMC2HOST, reset the read pointer,
    /// set B2H_ATN and raise the IRQ if enabled (QEMU `ipmi_bt_handle_rsp`).
    /// Does not touch B_BUSY.
    pub fn post_response(&mut self, frame: &[u8]) -> Result<(), PostError> {
        if !self.can_post() {
            return Err(PostError::HostBusy);
        }
        self.overwrite_response(frame)
    }

    /// Load `frame` into BMC2HOST whatever the host is doing, as QEMU
    /// `ipmi_bt_handle_rsp` does (it checks neither H_BUSY nor B2H_ATN); an
    /// unread previous response is lost. Unlike QEMU, the read pointer is
    /// reset too (the Linux host always writes CLR_RD_PTR before reading).
    pub fn overwrite_response(&mut self, frame: &[u8]) -> Result<(), PostError> {
        if frame.is_empty() {
            return Err(PostError::Empty);
        }
        if frame.len() > self.buf_size {
            return Err(PostError::TooLarge);
        }
        if let Some(dst) = self.s.b2h.get_mut(..frame.len()) {
            dst.copy_from_slice(frame);
        }
        self.s.b2h_len = frame.len() as u16; // <= BT_MAX_BUF
        self.s.b2h_rd = 0;
        self.s.ctrl |= Ctrl::B2H_ATN.bits();
        self.raise_irq();
        Ok(())
    }

    /// Set or clear B_BUSY (bt-bmc `set_b_busy`/`clr_b_busy`).
    pub fn set_b_busy(&mut self, busy: bool) {
        if busy {
            self.s.ctrl |= Ctrl::B_BUSY.bits();
        } else {
            self.s.ctrl &= !Ctrl::B_BUSY.bits();
        }
    }

    /// Set SMS_ATN (bt-bmc `set_sms_atn`); with `irq`, also raise the
    /// BMC-to-host interrupt if enabled (QEMU `ipmi_bt_set_atn`, which does so
    /// only when B2H_ATN is not already set).
    pub fn set_sms_atn(&mut self, irq: bool) {
        let b2h = self.ctrl_view() & Ctrl::B2H_ATN.bits() != 0;
        self.s.ctrl |= Ctrl::SMS_ATN.bits();
        if irq && !b2h {
            self.raise_irq();
        }
    }

    /// Set or clear the OEM0 bit.
    pub fn set_oem0(&mut self, on: bool) {
        if on {
            self.s.ctrl |= Ctrl::OEM0.bits();
        } else {
            self.s.ctrl &= !Ctrl::OEM0.bits();
        }
    }

    /// BMC (hard) reset of the interface: clears every BT_CTRL bit and both
    /// pointers, then sets B_BUSY if `busy` (the BMC is booting). With
    /// `clear_intmask` the interrupt configuration is lost too (Aspeed
    /// `mc reset` clears iBTCR0, openbmc/openbmc#2519). Fault overlays stay.
    pub fn bmc_reset(&mut self, busy: bool, clear_intmask: bool) {
        self.s.ctrl = if busy { Ctrl::B_BUSY.bits() } else { 0 };
        self.s.h2b_written = 0;
        self.s.b2h_len = 0;
        self.s.b2h_rd = 0;
        self.s.h2b_edge = false;
        self.s.hwrst_pending = false;
        if clear_intmask {
            self.s.intmask = 0;
        }
        self.update_irq();
    }

    /// Open or close the interrupt gate: with the gate closed B2H_IRQ can be
    /// pending in BT_INTMASK but the line stays low (QEMU `ipmi_bt_raise_irq`
    /// checks `irqs_enabled`, which the BMC sets from Global Enables).
    pub fn set_irq_gate(&mut self, open: bool) {
        self.s.irq_gate = open;
        self.update_irq();
    }

    /// Clear B2H_IRQ_EN and B2H_IRQ (QEMU's interface reset on Cold Reset:
    /// `ipmi_bt_handle_reset` with `is_cold`).
    pub fn clear_irq_config(&mut self) {
        self.s.intmask = 0;
        self.update_irq();
    }

    /// Fault overlay: the device disappears (every register reads 0xFF, writes
    /// are ignored), as with LPC decode off or no device present.
    pub fn set_gone(&mut self, gone: bool) {
        self.s.gone = gone;
    }

    /// Fault overlay: B2H_ATN reads 1 and host writes to clear it are ignored.
    /// When the overlay ends, B2H_ATN returns to what it was when it started
    /// (set only if a real response was waiting then).
    pub fn set_b2h_stuck(&mut self, stuck: bool) {
        if stuck == self.s.b2h_stuck {
            return;
        }
        self.s.b2h_stuck = stuck;
        self.overlay = Self::overlay_of(&self.s);
        if stuck {
            self.s.b2h_before_stuck = self.s.ctrl & Ctrl::B2H_ATN.bits() != 0;
            self.s.ctrl |= Ctrl::B2H_ATN.bits();
        } else if !self.s.b2h_before_stuck {
            self.s.ctrl &= !Ctrl::B2H_ATN.bits();
        }
    }

    /// Fault overlay: B_BUSY reads 1 regardless of the BMC's own setting.
    pub fn set_b_busy_forced(&mut self, forced: bool) {
        self.s.b_busy_forced = forced;
        self.overlay = Self::overlay_of(&self.s);
    }

    // ----- snapshot ------------------------------------------------------

    /// Snapshot of every register, buffer and pointer.
    pub fn state(&self) -> DeviceState {
        self.s.clone()
    }

    /// Restore a snapshot taken with [`state`](Self::state). Out-of-range
    /// pointers in a hand-made state are clamped to the buffer.
    pub fn restore(&mut self, s: &DeviceState) {
        self.s = s.clone();
        self.overlay = Self::overlay_of(&self.s);
        let max = BT_MAX_BUF as u16;
        self.s.b2h_len = self.s.b2h_len.min(max);
        self.s.b2h_rd = self.s.b2h_rd.min(self.s.b2h_len);
    }
}

impl<E: DeviceEvents> ipmi_bt_sm::Io for BtDevice<E> {
    fn read_ctrl(&mut self) -> u8 {
        self.read(BT_CTRL_OFFSET)
    }
    fn write_ctrl(&mut self, val: u8) {
        self.write(BT_CTRL_OFFSET, val)
    }
    fn read_buf(&mut self) -> u8 {
        self.read(BT_BUF_OFFSET)
    }
    fn write_buf(&mut self, val: u8) {
        self.write(BT_BUF_OFFSET, val)
    }
    fn read_bufs(&mut self, out: &mut [u8]) {
        self.read_buf_into(out)
    }
    fn write_bufs(&mut self, bytes: &[u8]) {
        self.write_buf_from(bytes)
    }
    fn read_intmask(&mut self) -> u8 {
        self.read(BT_INTMASK_OFFSET)
    }
    fn write_intmask(&mut self, val: u8) {
        self.write(BT_INTMASK_OFFSET, val)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipmi_bt_sm::Io;

    fn dev() -> BtDevice {
        BtDevice::new(BtDeviceConfig::default())
    }

    #[derive(Default)]
    struct Rec {
        accesses: Vec<RegAccess>,
        irqs: Vec<bool>,
        hwrst: u32,
    }
    impl DeviceEvents for Rec {
        fn register_access(&mut self, a: RegAccess) {
            self.accesses.push(a);
        }
        fn irq_changed(&mut self, level: bool) {
            self.irqs.push(level);
        }
        fn hwrst_requested(&mut self) {
            self.hwrst += 1;
        }
    }

    #[test]
    fn power_on_state_is_idle() {
        let mut d = dev();
        assert_eq!(d.read(0), 0);
        assert_eq!(d.read(2), 0);
        assert_eq!(d.read(1), 0xFF, "nothing posted");
        assert_eq!(d.read(3), 0xFF, "offset 3 like QEMU");
    }

    #[test]
    fn clr_ptr_bits_are_actions_and_read_back_zero() {
        let mut d = dev();
        d.write(1, 0xAA);
        d.write(1, 0xBB);
        d.write(0, Ctrl::CLR_WR_PTR.bits());
        assert_eq!(d.read(0) & 0x03, 0);
        d.write(1, 0x11);
        let mut buf = [0; BT_MAX_BUF];
        assert_eq!(d.take_request(&mut buf), 1);
        assert_eq!(buf[0], 0x11);

        d.set_b_busy(false);
        d.post_response(&[3, 1, 2, 3]).unwrap();
        assert_eq!(d.read(1), 3);
        assert_eq!(d.read(1), 1);
        d.write(0, Ctrl::CLR_RD_PTR.bits());
        assert_eq!(d.read(0) & 0x03, 0);
        assert_eq!(d.read(1), 3, "re-read from the start");
    }

    #[test]
    fn h2b_atn_set_by_host_cleared_by_bmc_take() {
        let mut d = dev();
        d.write(0, Ctrl::H2B_ATN.bits());
        assert!(d.ctrl().contains(Ctrl::H2B_ATN));
        assert_eq!(d.read(0), Ctrl::H2B_ATN.bits());
        assert!(d.take_h2b_edge());
        assert!(!d.take_h2b_edge(), "edge reported once");
        // Writing it again while still set is not a new edge.
        d.write(0, Ctrl::H2B_ATN.bits());
        assert!(!d.take_h2b_edge());
        let mut buf = [0; BT_MAX_BUF];
        d.take_request(&mut buf);
        assert_eq!(d.read(0), Ctrl::B_BUSY.bits(), "H2B cleared, B_BUSY set");
    }

    #[test]
    fn b2h_and_sms_atn_are_write_one_to_clear() {
        let mut d = dev();
        d.post_response(&[4, 0x1C, 0, 1, 0]).unwrap();
        d.set_sms_atn(false);
        assert_eq!(d.read(0), (Ctrl::B2H_ATN | Ctrl::SMS_ATN).bits());
        d.write(0, 0); // writing zeros changes nothing
        assert_eq!(d.read(0), (Ctrl::B2H_ATN | Ctrl::SMS_ATN).bits());
        d.write(0, Ctrl::B2H_ATN.bits());
        assert_eq!(d.read(0), Ctrl::SMS_ATN.bits());
        d.write(0, Ctrl::SMS_ATN.bits());
        assert_eq!(d.read(0), 0);
    }

    #[test]
    fn h_busy_toggles_on_written_one() {
        let mut d = dev();
        d.write(0, Ctrl::H_BUSY.bits());
        assert_eq!(d.read(0), Ctrl::H_BUSY.bits());
        d.write(0, 0);
        assert_eq!(d.read(0), Ctrl::H_BUSY.bits(), "write 0 has no effect");
        d.write(0, Ctrl::H_BUSY.bits());
        assert_eq!(d.read(0), 0);
    }

    #[test]
    fn b_busy_and_oem0_are_read_only_to_host() {
        let mut d = dev();
        d.write(0, (Ctrl::B_BUSY | Ctrl::OEM0).bits());
        assert_eq!(d.read(0), 0);
        d.set_b_busy(true);
        d.set_oem0(true);
        d.write(0, (Ctrl::B_BUSY | Ctrl::OEM0).bits());
        assert_eq!(d.read(0), (Ctrl::B_BUSY | Ctrl::OEM0).bits());
        d.set_b_busy(false);
        d.set_oem0(false);
        assert_eq!(d.read(0), 0);
    }

    #[test]
    fn bmc_never_posts_while_h_busy_or_b2h_atn() {
        let mut d = dev();
        d.write(0, Ctrl::H_BUSY.bits());
        assert!(!d.can_post());
        assert_eq!(
            d.post_response(&[4, 0x1C, 0, 1, 0]),
            Err(PostError::HostBusy)
        );
        d.write(0, Ctrl::H_BUSY.bits());
        d.post_response(&[4, 0x1C, 0, 1, 0]).unwrap();
        assert_eq!(
            d.post_response(&[4, 0x1C, 1, 1, 0]),
            Err(PostError::HostBusy)
        );
        assert_eq!(d.read(1), 4);
        assert_eq!(d.read(1), 0x1C);
        assert_eq!(d.read(1), 0, "first response untouched");
    }

    #[test]
    fn post_rejects_oversize_and_empty() {
        let mut d = dev();
        assert_eq!(d.post_response(&[0; 65]), Err(PostError::TooLarge));
        assert_eq!(d.post_response(&[]), Err(PostError::Empty));
        assert!(d.post_response(&[0; 64]).is_ok());
    }

    #[test]
    fn over_read_returns_ff_without_advancing() {
        let mut d = dev();
        d.post_response(&[1, 0x55]).unwrap();
        assert_eq!(d.read(1), 1);
        assert_eq!(d.read(1), 0x55);
        assert_eq!(d.read(1), 0xFF);
        assert_eq!(d.read(1), 0xFF);
        d.write(0, Ctrl::CLR_RD_PTR.bits());
        assert_eq!(d.read(1), 1);
    }

    #[test]
    fn over_write_is_dropped_but_counted() {
        let mut d = dev();
        for i in 0..70u8 {
            d.write(1, i);
        }
        let mut buf = [0; BT_MAX_BUF];
        assert_eq!(d.take_request(&mut buf), 70);
        assert_eq!(buf[63], 63);
        assert_eq!(buf[64], 0, "byte 64 was dropped");
    }

    #[test]
    fn buffer_size_is_clamped() {
        assert_eq!(
            BtDevice::new(BtDeviceConfig { buf_size: 1 }).buf_size(),
            BT_MIN_BUF
        );
        assert_eq!(
            BtDevice::new(BtDeviceConfig { buf_size: 10_000 }).buf_size(),
            BT_MAX_BUF
        );
    }

    #[test]
    fn intmask_irq_enable_raise_and_ack() {
        let mut d = BtDevice::with_events(BtDeviceConfig::default(), Rec::default());
        d.write(2, IntMask::B2H_IRQ_EN.bits());
        assert_eq!(d.read(2), 0x01);
        assert!(!d.irq_line());
        d.post_response(&[4, 0x1C, 0, 1, 0]).unwrap();
        assert!(d.irq_line());
        assert_eq!(d.read(2), 0x03);
        // Linux's IRQ handler writes 0x03: ack and stay enabled.
        d.write(2, 0x03);
        assert!(!d.irq_line());
        assert_eq!(d.read(2), 0x01);
        assert_eq!(d.events().irqs, vec![true, false]);
    }

    #[test]
    fn enabling_irq_with_pending_attention_raises_it() {
        let mut d = dev();
        d.set_sms_atn(false);
        assert!(!d.irq_line());
        d.write(2, 0x01);
        assert!(
            d.irq_line(),
            "QEMU raises on 0->1 with SMS_ATN/B2H_ATN pending"
        );
        d.write(2, 0x00);
        assert!(!d.irq_line(), "disabling drops the IRQ");
        assert_eq!(d.read(2), 0);
    }

    #[test]
    fn irq_not_raised_when_disabled() {
        let mut d = dev();
        d.post_response(&[4, 0x1C, 0, 1, 0]).unwrap();
        assert!(!d.irq_line());
        assert_eq!(d.read(2), 0);
    }

    #[test]
    fn sms_atn_irq_only_when_requested_and_no_b2h() {
        let mut d = dev();
        d.write(2, 0x01);
        d.set_sms_atn(false);
        assert!(!d.irq_line());
        d.set_sms_atn(true);
        assert!(d.irq_line());
    }

    #[test]
    fn closed_irq_gate_keeps_line_low() {
        let mut d = dev();
        d.set_irq_gate(false);
        d.write(2, 0x01);
        d.post_response(&[4, 0x1C, 0, 1, 0]).unwrap();
        assert_eq!(d.read(2), 0x03, "pending in the register");
        assert!(!d.irq_line());
        d.set_irq_gate(true);
        assert!(d.irq_line());
        d.clear_irq_config();
        assert!(!d.irq_line());
        assert_eq!(d.read(2), 0);
    }

    #[test]
    fn bmc_hwrst_is_latched_reads_zero_and_reported() {
        let mut d = BtDevice::with_events(BtDeviceConfig::default(), Rec::default());
        d.write(2, 0x01);
        // Linux reset_flags writes exactly 0x80: HWRST and IRQ_EN=0.
        d.write(2, 0x80);
        assert_eq!(d.read(2), 0x00);
        assert!(d.take_hwrst_request());
        assert!(!d.take_hwrst_request());
        assert_eq!(d.events().hwrst, 1);
    }

    #[test]
    fn gone_reads_ff_and_ignores_writes() {
        let mut d = dev();
        d.set_gone(true);
        assert_eq!(d.read(0), 0xFF);
        assert_eq!(d.read(1), 0xFF);
        assert_eq!(d.read(2), 0xFF);
        d.write(0, Ctrl::H2B_ATN.bits());
        d.set_gone(false);
        assert_eq!(d.read(0), 0, "write while gone was ignored");
        assert!(!d.take_h2b_edge());
    }

    /// Records every register access.
    #[derive(Default)]
    struct Accesses(Vec<RegAccess>);
    impl DeviceEvents for Accesses {
        fn register_access(&mut self, a: RegAccess) {
            self.0.push(a);
        }
    }

    #[test]
    fn bulk_buffer_access_matches_byte_by_byte() {
        for gone in [false, true] {
            for (len, rd, n) in [(5, 0, 3), (5, 2, 6), (5, 5, 2), (64, 0, 64), (1, 0, 0)] {
                let mk = || {
                    let mut d =
                        BtDevice::with_events(BtDeviceConfig::default(), Accesses::default());
                    let frame: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(7)).collect();
                    d.post_response(&frame).unwrap();
                    for _ in 0..rd {
                        d.read(BT_BUF_OFFSET);
                    }
                    d.set_gone(gone);
                    d
                };
                let (mut a, mut b) = (mk(), mk());
                let one: Vec<u8> = (0..n).map(|_| a.read(BT_BUF_OFFSET)).collect();
                let mut bulk = vec![0u8; n];
                b.read_buf_into(&mut bulk);
                assert_eq!(one, bulk, "gone {gone} len {len} rd {rd} n {n}");
                assert_eq!(a.state(), b.state());
                assert_eq!(a.events().0, b.events().0);
            }
            for (pre, n) in [(0, 4), (60, 10), (64, 3), (0, 70)] {
                let mk = || {
                    let mut d =
                        BtDevice::with_events(BtDeviceConfig::default(), Accesses::default());
                    d.write(BT_CTRL_OFFSET, Ctrl::CLR_WR_PTR.bits());
                    for i in 0..pre {
                        d.write(BT_BUF_OFFSET, i as u8);
                    }
                    d.set_gone(gone);
                    d
                };
                let (mut a, mut b) = (mk(), mk());
                let bytes: Vec<u8> = (0..n).map(|i| 0x80 | i as u8).collect();
                bytes.iter().for_each(|&v| a.write(BT_BUF_OFFSET, v));
                b.write_buf_from(&bytes);
                assert_eq!(a.state(), b.state(), "gone {gone} pre {pre} n {n}");
                assert_eq!(a.events().0, b.events().0);
            }
        }
    }

    #[test]
    fn b2h_stuck_ignores_host_clear() {
        let mut d = dev();
        d.set_b2h_stuck(true);
        assert_eq!(d.read(0), Ctrl::B2H_ATN.bits());
        d.write(0, Ctrl::B2H_ATN.bits());
        assert_eq!(d.read(0), Ctrl::B2H_ATN.bits());
        assert!(!d.can_post());
        d.set_b2h_stuck(false);
        assert_eq!(d.read(0), 0, "B2H_ATN was clear before the fault");
        d.post_response(&[4, 0x1C, 0, 1, 0]).unwrap();
        d.set_b2h_stuck(true);
        d.set_b2h_stuck(false);
        assert_eq!(
            d.read(0),
            Ctrl::B2H_ATN.bits(),
            "a real response stays flagged"
        );
    }

    #[test]
    fn forced_b_busy_overlays_without_losing_real_state() {
        let mut d = dev();
        d.set_b_busy_forced(true);
        assert_eq!(d.read(0), Ctrl::B_BUSY.bits());
        d.set_b_busy_forced(false);
        assert_eq!(d.read(0), 0);
    }

    #[test]
    fn bmc_reset_clears_bits_and_holds_busy() {
        let mut d = dev();
        d.write(2, 0x01);
        d.post_response(&[4, 0x1C, 0, 1, 0]).unwrap();
        d.write(0, Ctrl::H_BUSY.bits());
        d.bmc_reset(true, true);
        assert_eq!(d.read(0), Ctrl::B_BUSY.bits());
        assert_eq!(d.read(2), 0);
        assert!(!d.irq_line());
        assert_eq!(d.read(1), 0xFF);
    }

    #[test]
    fn register_accesses_are_reported_in_order() {
        let mut d = BtDevice::with_events(BtDeviceConfig::default(), Rec::default());
        d.write_ctrl(0x01);
        d.write_buf(0x42);
        let _ = d.read_ctrl();
        let _ = d.read_intmask();
        let a = &d.events().accesses;
        assert_eq!(a.len(), 4);
        assert_eq!(
            a[0],
            RegAccess {
                dir: AccessDir::Write,
                reg: Reg::Ctrl,
                value: 1
            }
        );
        assert_eq!(
            a[1],
            RegAccess {
                dir: AccessDir::Write,
                reg: Reg::Buf,
                value: 0x42
            }
        );
        assert_eq!(a[2].dir, AccessDir::Read);
        assert_eq!(a[3].reg, Reg::IntMask);
    }

    #[test]
    fn state_roundtrip() {
        let mut d = dev();
        d.write(1, 9);
        d.write(0, Ctrl::H2B_ATN.bits());
        d.write(2, 1);
        let snap = d.state();
        let mut e = dev();
        e.restore(&snap);
        assert_eq!(e.state(), snap);
        assert_eq!(e.read(0), Ctrl::H2B_ATN.bits());
        let mut bad = snap.clone();
        bad.b2h_len = 9999;
        bad.b2h_rd = 9999;
        e.restore(&bad);
        assert_eq!(e.state().b2h_len as usize, BT_MAX_BUF);
    }
}
