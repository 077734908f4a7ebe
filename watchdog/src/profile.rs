//! Compatibility profiles: which BMC implementation the model behaves like.
//!
//! Each profile reproduces the documented deviations of one implementation
//! (project reference `bmc-watchdog.md` §2.9; the full list with sources is
//! in `spec-notes/watchdog.md`). Use them to check which behaviour your
//! management software depends on.

use core::fmt;
use core::str::FromStr;

use crate::types::ParseNameError;

/// Which BMC's watchdog behaviour the model reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CompatProfile {
    /// IPMI v2.0 §27 as written (with this project's documented decisions
    /// where the spec is silent).
    #[default]
    Spec,
    /// QEMU's built-in BMC, `hw/ipmi/ipmi_bmc_sim.c` (`set_watchdog_timer`,
    /// `get_watchdog_timer`, `do_watchdog_reset`, `ipmi_sim_handle_timeout`).
    Qemu,
    /// OpenIPMI's `ipmi_sim` (lanserv), `lanserv/bmc_app.c`
    /// (`handle_set_watchdog_timer`, `handle_get_watchdog_timer`,
    /// `do_watchdog_reset`, `watchdog_timeout`).
    OpenIpmiLanserv,
    /// OpenBMC: phosphor-host-ipmid `app/watchdog.cpp` (`ipmiSetWatchdogTimer`,
    /// `ipmiGetWatchdogTimer`, `ipmiAppResetWatchdogTimer`) on top of
    /// phosphor-watchdog, with phosphor-sel-logger writing the SEL.
    PhosphorWatchdog,
}

impl CompatProfile {
    /// Every profile.
    pub const ALL: [CompatProfile; 4] = [
        CompatProfile::Spec,
        CompatProfile::Qemu,
        CompatProfile::OpenIpmiLanserv,
        CompatProfile::PhosphorWatchdog,
    ];

    /// CLI name (`"spec"`, `"qemu"`, `"lanserv"`, `"phosphor"`).
    pub const fn cli_name(self) -> &'static str {
        match self {
            Self::Spec => "spec",
            Self::Qemu => "qemu",
            Self::OpenIpmiLanserv => "lanserv",
            Self::PhosphorWatchdog => "phosphor",
        }
    }

    /// Timing switch: a re-arm (Reset, don't-stop Set) while the firmware's
    /// one timer is still queued does not move that timer. OpenIPMI lanserv:
    /// `do_watchdog_reset` (`lanserv/bmc_app.c`) calls `start_timer`, which
    /// the selector refuses for a queued timer (`utils/selector.c`
    /// `sel_start_timer`: `EBUSY`, ignored), so the pending pre-action or
    /// expiry still happens at the old time; only the deadline Get would
    /// report, and the rest after a pre-action, move. Stopping (a Set
    /// without don't-stop, a Reset with action "none") leaves the timer
    /// queued too, and it then fires with nothing to do.
    pub const fn rearm_keeps_queued_timer(self) -> bool {
        matches!(self, Self::OpenIpmiLanserv)
    }

    /// Timing switch: after the pre-action, a rest under one second expires
    /// at once. OpenIPMI lanserv `watchdog_timeout` re-queues
    /// `watchdog_expiry − now` but zeroes it when its whole seconds are 0
    /// (and `do_watchdog_reset` clamps countdown − pre-timeout at 0 in whole
    /// seconds, so a pre-timeout above a countdown of 1 s or less gives both
    /// at the arming). A timer never runs early, so a nominal rest of exactly
    /// 1 s (pre-timeout 1 s) counts as under: the expiry follows the
    /// pre-action at once.
    pub const fn sub_second_rest_expires_at_once(self) -> bool {
        matches!(self, Self::OpenIpmiLanserv)
    }

    /// One-line description for `--help` texts.
    pub const fn description(self) -> &'static str {
        match self {
            Self::Spec => "IPMI v2.0 §27 as written",
            Self::Qemu => "QEMU ipmi_bmc_sim.c built-in BMC",
            Self::OpenIpmiLanserv => "OpenIPMI ipmi_sim (lanserv bmc_app.c)",
            Self::PhosphorWatchdog => "OpenBMC phosphor-host-ipmid + phosphor-watchdog",
        }
    }
}

impl fmt::Display for CompatProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cli_name())
    }
}

impl FromStr for CompatProfile {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "spec" | "ipmi" => Ok(Self::Spec),
            "qemu" => Ok(Self::Qemu),
            "lanserv" | "openipmi" | "openipmi-lanserv" | "ipmi_sim" | "ipmi-sim" => {
                Ok(Self::OpenIpmiLanserv)
            }
            "phosphor" | "openbmc" | "phosphor-watchdog" => Ok(Self::PhosphorWatchdog),
            _ => Err(ParseNameError {
                field: "watchdog compatibility profile",
                expected: "spec, qemu, lanserv, phosphor",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in CompatProfile::ALL {
            assert_eq!(p.cli_name().parse::<CompatProfile>(), Ok(p));
            assert!(!p.description().is_empty());
        }
        assert_eq!(CompatProfile::default(), CompatProfile::Spec);
        assert!("vmware".parse::<CompatProfile>().is_err());
    }
}
