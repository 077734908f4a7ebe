//! [`BmcPort`]: a BMC as seen from outside the simulator's BT registers, by
//! whatever carries requests to it and its wishes to the host (the VM
//! protocol's connection in `vmproto`, the CLI's in-process transport). The
//! core names no carrier: dependencies point from them to it.
//!
//! The BMC core knows nothing about sockets or tasks: a port is fed requests
//! and time, and hands back replies and [`HostAction`]s.

use ipmi_vocab::Instant;

/// What the BMC asks the host machine to do; the VM protocol turns each into
/// a control command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostAction {
    /// SMS_ATN set (`true`) or cleared (`false`) in BT_CTRL.
    SmsAtn(bool),
    /// Receive-message-queue interrupt enabled or disabled (BMC Global
    /// Enables bit 0, IPMI v2.0 §22.1).
    IrqEnable(bool),
    /// Hard reset (watchdog action 1, chassis control reset).
    HardReset,
    /// Power down (watchdog action 2, chassis control power down).
    PowerOff,
    /// Power cycle (watchdog action 3). The VM protocol has no power cycle:
    /// sent as `RESET`.
    PowerCycle,
    /// NMI (watchdog pre-timeout interrupt "NMI / Diagnostic Interrupt").
    Nmi,
    /// Soft (ACPI) shutdown.
    GracefulShutdown,
}

/// One answer from the BMC: completion code and data. The carrier echoes the
/// request's netfn (| 1), LUN and command around it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    /// Completion code.
    pub cc: u8,
    /// Response data after the completion code.
    pub data: Vec<u8>,
}

/// A BMC a carrier can serve. Time is the workspace's virtual [`Instant`]:
/// for the VM server the real monotonic clock since the server started, for
/// the CLI's embedded simulator real time since the transport was created.
pub trait BmcPort {
    /// Handles one request (`netfn << 2 | lun`, cmd, data). `None` means the
    /// BMC does not answer at all (e.g. a BMC-level fault).
    fn handle_request(
        &mut self,
        now: Instant,
        netfn_lun: u8,
        cmd: u8,
        data: &[u8],
    ) -> Option<Reply>;
    /// Lets time pass up to `now` (timers, watchdog expiry).
    fn advance(&mut self, now: Instant);
    /// When [`advance`](Self::advance) must next be called, if ever.
    fn next_deadline(&self) -> Option<Instant>;
    /// Moves what the BMC wants done to the host since the last call into `out`.
    fn drain_actions(&mut self, out: &mut Vec<HostAction>);
    /// The host machine was reset (for the VM protocol: control `RESET` from
    /// the VM).
    fn host_reset(&mut self, _now: Instant) {}
}
