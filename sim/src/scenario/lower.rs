//! Lowering a [`Scenario`] to what the layers below take: the driver
//! profiles ([`DriverChoice`]), the BMC's [`BmcConfig`] and its [`FaultPlan`].

use ipmi_bt_sm::{Behaviour, KernelProfile, PrintkEra};

use super::schema::{BmcPreset, KernelPreset, Scenario, SiProfileName};
use crate::bmc::fault::FaultPlan;
use crate::bmc::{BmcConfig, BtCapabilities};
use crate::host::si::SiProfile;

/// The host-driver behaviour a scenario resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverChoice {
    /// The named preset the choice started from.
    pub preset: KernelPreset,
    /// BT state-machine profile.
    pub bt: KernelProfile,
    /// Its switches, adjusted for the preset (e.g. printk joining of 2.6.31+).
    pub behaviour: Behaviour,
    /// SI-layer profile.
    pub si: SiProfile,
}

/// The BT and SI profiles of a kernel preset (see `spec-notes/si-driver.md`).
pub fn preset_profiles(p: KernelPreset) -> (KernelProfile, SiProfile) {
    match p {
        KernelPreset::V2_6_12 => (KernelProfile::Linux2005, SiProfile::PRE_2014),
        KernelPreset::V3_13 => (KernelProfile::CapsInSm, SiProfile::PRE_2014),
        KernelPreset::V3_14 => (KernelProfile::CapsInSm, SiProfile::V2014),
        KernelPreset::V4_14 => (KernelProfile::CapsInSmTimeoutFix, SiProfile::V2016),
        KernelPreset::V4_19 => (KernelProfile::Mainline2018, SiProfile::V2016),
        KernelPreset::Mainline => (KernelProfile::Mainline, SiProfile::CURRENT),
        KernelPreset::FixedReset => (KernelProfile::FixedReset, SiProfile::CURRENT),
        KernelPreset::FixedB8 => (KernelProfile::Proposed, SiProfile::CURRENT),
    }
}

/// The SI profile for a scenario name.
pub fn si_profile(n: SiProfileName) -> SiProfile {
    match n {
        SiProfileName::Pre2014 => SiProfile::PRE_2014,
        SiProfileName::V2014 => SiProfile::V2014,
        SiProfileName::V2016 => SiProfile::V2016,
        SiProfileName::V2020 => SiProfile::V2020,
        SiProfileName::Current => SiProfile::CURRENT,
    }
}

impl Scenario {
    /// The driver behaviour this scenario selects (preset plus overrides).
    pub fn driver_choice(&self) -> DriverChoice {
        let (mut bt, mut si) = preset_profiles(self.driver.kernel);
        if let Some(name) = &self.driver.bt {
            if let Some(p) = KernelProfile::from_name(name) {
                bt = p;
            }
        }
        if let Some(n) = self.driver.si {
            si = si_profile(n);
        }
        let mut behaviour = bt.behaviour();
        // bt-sm's CapsInSm models 2.6.20-2.6.30 printk joining; the v3.x presets
        // are 2.6.31+ kernels, where a levelled printk always starts a line.
        if matches!(
            self.driver.kernel,
            KernelPreset::V3_13 | KernelPreset::V3_14
        ) && self.driver.bt.is_none()
        {
            behaviour.printk = PrintkEra::Modern;
        }
        behaviour.debug = self.driver.bt_debug;
        DriverChoice {
            preset: self.driver.kernel,
            bt,
            behaviour,
            si,
        }
    }

    /// The simulated BMC's configuration.
    pub fn bmc_config(&self) -> BmcConfig {
        let b = &self.bmc;
        let mut cfg = match b.preset {
            BmcPreset::Default => BmcConfig::default(),
            BmcPreset::Qemu => BmcConfig::qemu(),
            BmcPreset::Openbmc => BmcConfig::openbmc(),
        };
        if let Some(l) = b.latency {
            cfg.response_latency = l;
        }
        if let Some(l) = b.take_latency {
            cfg.take_latency = l;
        }
        if let Some(l) = b.jitter {
            cfg.latency_jitter = l;
        }
        if let Some(l) = b.boot_time {
            cfg.boot_time = l;
        }
        if let Some(v) = b.b_busy_until_response {
            cfg.b_busy_until_response = v;
        }
        if let Some(v) = b.unanswered_holds_b_busy {
            cfg.unanswered_holds_b_busy = v;
        }
        if let Some(c) = &b.caps {
            cfg.bt_caps = BtCapabilities {
                outstanding: c.outstanding,
                input_size: c.input_size,
                output_size: c.output_size,
                req2rsp_secs: c.req2rsp_secs,
                retries: c.retries,
            };
        }
        if let Some(w) = &b.watchdog {
            if let Ok(p) = w.parse() {
                cfg.watchdog_profile = p;
            }
        }
        cfg.seed = self.seed;
        cfg
    }

    /// The fault schedule as the BMC's [`FaultPlan`]: each entry lowered
    /// by its declaration ([`FaultSpec::entry`](super::FaultSpec::entry)).
    /// Entries [`validate`](Self::validate) rejects are left out.
    pub fn fault_plan(&self) -> FaultPlan {
        FaultPlan {
            entries: self.faults.iter().filter_map(|f| f.entry().ok()).collect(),
        }
    }
}
