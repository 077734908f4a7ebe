//! Lowering a [`Scenario`] to what the layers below take: the driver
//! profiles ([`DriverChoice`]), the BMC's [`BmcConfig`] and its [`FaultPlan`].

use std::time::Duration;

use ipmi_bt_sm::{Behaviour, KernelProfile};

use super::schema::{BmcPreset, FaultKindName, FaultSpec, KernelPreset, Scenario};
use crate::bmc::fault::{Fault, FaultAction, FaultPlan, Trigger};
use crate::bmc::{BmcConfig, BtCapabilities};
use crate::host::si::SiProfile;
use crate::time::SimTime;

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
            BmcPreset::Openbmc => BmcConfig::openbmc(),
        };
        if let Some(l) = b.latency {
            cfg.response_latency = Duration::from_nanos(l.0);
        }
        if let Some(l) = b.take_latency {
            cfg.take_latency = Duration::from_nanos(l.0);
        }
        if let Some(l) = b.jitter {
            cfg.latency_jitter = Duration::from_nanos(l.0);
        }
        if let Some(l) = b.boot_time {
            cfg.boot_time = Duration::from_nanos(l.0);
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

    /// The fault schedule as the BMC's [`FaultPlan`].
    pub fn fault_plan(&self) -> FaultPlan {
        let mut plan = FaultPlan::new();
        for f in &self.faults {
            let fault = fault_of(f);
            let trigger = match (f.at, f.at_command) {
                (_, Some(n)) => Trigger::AtCommand(n),
                (Some(t), None) => Trigger::At(SimTime::from_nanos(t.0)),
                (None, None) => Trigger::At(SimTime::ZERO),
            };
            let action = match f.duration {
                Some(d) if !fault.kind().is_instant() => {
                    FaultAction::StartFor(fault, Duration::from_nanos(d.0))
                }
                _ => FaultAction::Start(fault),
            };
            plan = plan.with(trigger, action);
        }
        plan
    }
}

fn fault_of(f: &FaultSpec) -> Fault {
    use FaultKindName as K;
    let d = |x: Option<super::schema::Dur>| x.map(|v| Duration::from_nanos(v.0));
    match f.kind {
        K::Silent => Fault::Silent,
        K::StuckBusy => Fault::StuckBBusy,
        K::NeverClearH2b => Fault::NeverClearH2bAtn,
        K::HoldBusy => Fault::HangAfterTake,
        K::Slow => Fault::SlowResponse {
            latency: d(f.latency).unwrap_or_default(),
        },
        K::LoseResponses => Fault::LoseResponses { count: f.count },
        K::RandomLoss => Fault::RandomLoss {
            per_mille: f.per_mille.unwrap_or(0),
        },
        K::WrongSeq => Fault::WrongSeq {
            seq_delta: f.seq_delta.unwrap_or(1),
            correct_after: d(f.correct_after),
        },
        K::StaleResponse => Fault::StaleResponse {
            correct_after: d(f.correct_after),
        },
        K::DuplicateResponse => Fault::DuplicateResponse,
        K::CorruptLength => Fault::CorruptLength {
            len: f.len.unwrap_or(0),
        },
        K::StuckB2h => Fault::B2hAtnStuck,
        K::ReadsFf => Fault::RegistersFF,
        K::BmcReset => Fault::BmcReset {
            keep_watchdog: f.keep_watchdog.unwrap_or(false),
        },
        K::Reconnect => Fault::Reconnect,
        K::IgnoreCommand => Fault::IgnoreCommand {
            netfn: f.netfn.unwrap_or(0),
            cmd: f.cmd.unwrap_or(0),
        },
        K::ErrorResponse => Fault::ErrorResponse {
            cc: f.cc.unwrap_or(0xFF),
        },
    }
}
