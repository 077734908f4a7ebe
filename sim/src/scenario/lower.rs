//! Lowering a [`Scenario`] to what the layers below take: the driver
//! profiles ([`DriverChoice`]), the BMC's [`BmcConfig`] and its [`FaultPlan`].

use ipmi_bt_sm::{Behaviour, KernelProfile};

use super::schema::{BmcPreset, KernelPreset, Scenario};
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
    /// Its switches, in the preset's printk era unless `bt` was overridden.
    pub behaviour: Behaviour,
    /// SI-layer profile.
    pub si: SiProfile,
}

impl Scenario {
    /// The driver behaviour this scenario selects: the preset's row of
    /// [`KernelPreset::ALL`], then the `bt` and `si` overrides.
    pub fn driver_choice(&self) -> DriverChoice {
        let preset = self.driver.kernel;
        let (bt, mut behaviour) = match &self.driver.bt {
            None => (preset.bt, preset.behaviour()),
            // An overriding state machine brings its own printk era.
            Some(name) => {
                let bt = KernelProfile::from_name(name).unwrap_or(preset.bt);
                (bt, bt.behaviour())
            }
        };
        behaviour.debug = self.driver.bt_debug;
        DriverChoice {
            preset,
            bt,
            behaviour,
            si: self.driver.si.unwrap_or(preset.si),
        }
    }

    /// The simulated BMC's configuration.
    pub fn bmc_config(&self) -> BmcConfig {
        let b = &self.bmc;
        let mut cfg = match b.preset {
            BmcPreset::Default => BmcConfig::default(),
            BmcPreset::Qemu => BmcConfig::qemu(),
            BmcPreset::QemuExtern => BmcConfig::qemu_extern(),
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
        if let Some(v) = b.post_waits_for_host {
            cfg.post_waits_for_host = v;
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
