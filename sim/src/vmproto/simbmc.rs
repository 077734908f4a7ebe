//! [`BmcPort`] for the crate's [`SimBmc`]: the simulated BMC served to QEMU.
//!
//! Only the command dispatcher is used ([`SimBmc::handle_command`]): behind
//! QEMU the BT registers are QEMU's (`hw/ipmi/ipmi_bt.c`), so the BMC's
//! register-level faults do not apply; VM-level faults come from
//! [`super::fault`]. Events map to host actions:
//! * watchdog expiry: hard reset → `RESET`, power down → `POWEROFF`, power
//!   cycle → `RESET` (the VM protocol has no power cycle);
//! * pre-timeout NMI → `SEND_NMI`;
//! * SMS_ATN raised, or the message flags becoming non-empty → `ATTN`
//!   (`ATTN_IRQ` when the interrupt is enabled), flags emptied → `NOATTN`,
//!   as OpenIPMI's `ipmi_sim` does on its VM link.

use ipmi_watchdog::{PreTimeoutInterrupt, TimerAction};

use crate::bmc::device::DeviceEvents;
use crate::bmc::{BmcEventKind, BmcPort, HostAction, Reply, SimBmc};
use ipmi_vocab::Instant;

/// A [`SimBmc`] with the bookkeeping the VM server needs (ATN state).
#[derive(Debug)]
pub struct VmSimBmc<E: DeviceEvents = crate::bmc::device::NoEvents> {
    bmc: SimBmc<E>,
    atn: bool,
    actions: Vec<HostAction>,
}

impl<E: DeviceEvents> VmSimBmc<E> {
    /// Wraps a simulated BMC.
    pub fn new(bmc: SimBmc<E>) -> Self {
        Self {
            bmc,
            atn: false,
            actions: Vec::new(),
        }
    }

    /// The simulated BMC.
    pub fn bmc(&self) -> &SimBmc<E> {
        &self.bmc
    }

    /// The simulated BMC, mutable (to inject BMC-level state or faults).
    pub fn bmc_mut(&mut self) -> &mut SimBmc<E> {
        &mut self.bmc
    }

    fn collect(&mut self) {
        let mut raise = false;
        for ev in self.bmc.drain_events() {
            match ev.kind {
                BmcEventKind::WatchdogExpired { action, .. } => match action {
                    TimerAction::HardReset => self.actions.push(HostAction::HardReset),
                    TimerAction::PowerDown => self.actions.push(HostAction::PowerOff),
                    TimerAction::PowerCycle => self.actions.push(HostAction::PowerCycle),
                    _ => {}
                },
                BmcEventKind::WatchdogPreTimeout {
                    interrupt: PreTimeoutInterrupt::Nmi,
                    ..
                } => {
                    self.actions.push(HostAction::Nmi);
                }
                BmcEventKind::SmsAtn => {
                    raise = true;
                    // Every raise, in event order: a pre-timeout's ATTN goes
                    // out before an expiry at the same instant, and again for
                    // a second pre-timeout while the first is unacknowledged,
                    // as ipmi_sim sends them (tests/lanserv/compare.py; QEMU
                    // ignores an ATTN that changes nothing).
                    self.atn = true;
                    self.actions.push(HostAction::SmsAtn(true));
                }
                _ => {}
            }
        }
        let flags = !self.bmc.message_flags().is_empty();
        if (raise || flags) && !self.atn {
            self.atn = true;
            self.actions.push(HostAction::SmsAtn(true));
        } else if !flags && !raise && self.atn {
            self.atn = false;
            self.actions.push(HostAction::SmsAtn(false));
        }
    }
}

impl<E: DeviceEvents> BmcPort for VmSimBmc<E> {
    fn handle_request(
        &mut self,
        now: Instant,
        netfn_lun: u8,
        cmd: u8,
        data: &[u8],
    ) -> Option<Reply> {
        let r = self.bmc.handle_command(now, netfn_lun, cmd, data);
        self.collect();
        Some(Reply {
            cc: r.cc.0,
            data: r.data().to_vec(),
        })
    }

    fn advance(&mut self, now: Instant) {
        self.bmc.advance(now);
        self.collect();
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.bmc.next_deadline()
    }

    fn drain_actions(&mut self, out: &mut Vec<HostAction>) {
        out.append(&mut self.actions);
    }

    /// QEMU sends `RESET` (04 A1) on every guest system reset: the BMC's
    /// [`SimBmc::host_reset`] (the spec watchdog stops).
    fn host_reset(&mut self, now: Instant) {
        self.bmc.host_reset(now);
        self.collect();
    }
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use core::time::Duration;
    use std::sync::{Arc, Mutex};

    use super::super::client::VmClient;
    use super::super::codec::ControlCommand;
    use super::super::connection::ServerOptions;
    use super::super::server::VmServer;
    use super::*;
    use crate::bmc::config::BmcConfig;

    const T: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn watchdog_expiry_in_real_time_resets_the_vm() {
        let bmc = Arc::new(Mutex::new(VmSimBmc::new(SimBmc::new(BmcConfig::qemu()))));
        let opts = ServerOptions {
            control_gap: Duration::from_millis(1),
            ..Default::default()
        };
        let server = Arc::new(VmServer::new(bmc.clone(), opts));
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let s = server.clone();
        tokio::spawn(async move { s.serve_stream(a).await });
        let mut c = VmClient::new(b).await.unwrap();

        let id = c.request(0x06, 0, 0x01, &[], T).await.unwrap();
        assert_eq!(id.cc.0, 0);
        assert_eq!(
            id.data.first(),
            Some(&BmcConfig::qemu().device_id.device_id)
        );
        // Set Watchdog: SMS/OS, hard reset, 0.2 s; then Reset starts it.
        let set = [0x04, 0x01, 0x00, 0x00, 0x02, 0x00];
        assert_eq!(c.request(0x06, 0, 0x24, &set, T).await.unwrap().cc.0, 0);
        assert_eq!(c.request(0x06, 0, 0x22, &[], T).await.unwrap().cc.0, 0);
        let mut controls = c.take_controls();
        for _ in 0..100 {
            if controls.contains(&ControlCommand::Reset) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            // Any request lets the client read what the server sent.
            c.request(0x06, 0, 0x01, &[], T).await.unwrap();
            controls.extend(c.take_controls());
        }
        assert_eq!(
            controls,
            vec![ControlCommand::Version(1), ControlCommand::Reset]
        );
        let get = c.request(0x06, 0, 0x25, &[], T).await.unwrap();
        assert_eq!(get.data.get(3), Some(&0x10), "SMS/OS expiration flag set");
        assert_eq!(get.data.first().map(|u| u & 0x40), Some(0), "timer stopped");
    }

    /// QEMU sends `RESET` (04 A1) when the guest reboots: the server hands it
    /// to the BMC as a host reset, which stops a spec-profile watchdog.
    #[tokio::test]
    async fn vm_reset_control_is_a_host_reset() {
        use tokio::io::AsyncWriteExt;
        let bmc = Arc::new(Mutex::new(VmSimBmc::new(SimBmc::new(BmcConfig::default()))));
        {
            let mut g = bmc.lock().unwrap();
            let b = g.bmc_mut();
            // SMS/OS, hard reset, 6553.5 s; Reset starts it.
            let set = [0x04, 0x01, 0x00, 0x00, 0xFF, 0xFF];
            assert!(b.handle_command(Instant::ZERO, 0x18, 0x24, &set).cc.is_ok());
            assert!(b.handle_command(Instant::ZERO, 0x18, 0x22, &[]).cc.is_ok());
            assert!(b.watchdog().is_running());
        }
        let opts = ServerOptions {
            control_gap: Duration::from_millis(1),
            ..Default::default()
        };
        let server = Arc::new(VmServer::new(bmc.clone(), opts));
        let (a, mut vm) = tokio::net::UnixStream::pair().unwrap();
        tokio::spawn(async move { server.serve_stream(a).await });
        vm.write_all(&[0x04, 0xA1]).await.unwrap();
        let mut running = true;
        for _ in 0..200 {
            running = bmc.lock().unwrap().bmc().watchdog().is_running();
            if !running {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!running, "RESET from the VM stops the watchdog");
    }
}
