//! Kernel presets and the named SI-layer profiles: one row of data per kernel.
//!
//! A [`KernelPreset`] is what `[driver] kernel = "v4.19"` in a scenario file,
//! `bmcwd scenario explore --kernel v4.19` and `bmc_sim::explore::search` name:
//! the BT state machine of `ipmi_bt_sm.c` ([`ipmi_bt_sm::KernelProfile`]), the
//! SI layer of `ipmi_si_intf.c` ([`SiProfile`]) and the printk era of that
//! kernel, with the kernel versions it stands for and the upstream commits that
//! define it. [`KernelPreset::ALL`] is the only list: the scenario format, the
//! CLI, the search and the preset tables of `README.md` and
//! `sim/scenarios/README.md` (checked by `tests/tests/preset_docs.rs`) all read
//! it.
//!
//! Adding a kernel: append a row to [`KernelPreset::ALL`] (oldest first); if the
//! kernel brings a BT behaviour no [`ipmi_bt_sm::KernelProfile`] has, add the
//! switch to `ipmi_bt_sm::Behaviour` and a profile to `bt-sm/src/profile.rs`;
//! if it brings an SI-layer change, add a switch to [`SiProfile`] and a row to
//! [`SiProfile::ALL`] here. Then regenerate the README tables
//! (`BMCWD_BLESS=1 cargo test -p bmcwd-integration-tests --test preset_docs`).
//!
//! Commit ids and version ranges come from `spec-notes/kernel-bt-history.md`
//! (BT state machine) and `spec-notes/si-driver.md` (SI layer).

use ipmi_bt_sm::{Behaviour, KernelProfile, PrintkEra};

use super::si::{InitWaitCredit, SiProfile, UnloadWait};

/// A named kernel version: which BT state machine, SI layer and printk era it
/// runs, and why (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelPreset {
    /// The name used in scenario files and on the command line (`v4.19`).
    pub name: &'static str,
    /// The kernel versions it stands for (`4.18-5.9`), or `proposal` for
    /// behaviour that never shipped.
    pub kernels: &'static str,
    /// One line for help texts: what changed and which bugs (`B-N`,
    /// `spec-notes/kernel-bt.md` §12) are present.
    pub description: &'static str,
    /// The upstream commits (abbreviated ids) that define it: the fixes it has
    /// that the row before it lacks, or the tree its model was read at.
    pub commits: &'static [&'static str],
    /// BT state machine (`ipmi_bt_sm.c`).
    pub bt: KernelProfile,
    /// SI layer (`ipmi_si_intf.c`).
    pub si: SiProfile,
    /// How that kernel's printk joins continuation lines. It differs from
    /// `bt`'s own era where one state machine spans printk changes: bt-sm's
    /// `caps-in-sm` models 2.6.20-2.6.30 joining, the v3.x kernels are 2.6.31+,
    /// where a levelled printk always starts a line.
    pub printk: PrintkEra,
}

impl KernelPreset {
    /// Every preset, oldest first. One row per kernel.
    pub const ALL: &'static [KernelPreset] = &[
        KernelPreset {
            name: "v2.6.12",
            kernels: "2.6.12-2.6.14",
            description: "2.6.12-2.6.14: original BT driver (HOSED), 100 us init-wait credit (B-3)",
            commits: &["1da177e4c3f4"],
            bt: KernelProfile::Linux2005,
            si: SiProfile::PRE_2014,
            printk: PrintkEra::Pre2_6_31,
        },
        KernelPreset {
            name: "v3.13",
            kernels: "2.6.31-3.13",
            description: "2.6.31-3.13: caps inside the SM (B-6), seq reset heuristic (B-4), 100 us init wait (B-3)",
            commits: &["229aebb873e2"],
            bt: KernelProfile::CapsInSm,
            si: SiProfile::PRE_2014,
            printk: PrintkEra::Modern,
        },
        KernelPreset {
            name: "v3.14",
            kernels: "3.14-4.4",
            description: "3.14-4.4: e21404dc0ac7 fixed B-3; B-4, B-6, B-10 remain",
            commits: &["e21404dc0ac7"],
            bt: KernelProfile::CapsInSm,
            si: SiProfile::V2014,
            printk: PrintkEra::Modern,
        },
        KernelPreset {
            name: "v4.14",
            kernels: "4.5-4.17",
            description: "4.5-4.17: d9dffd2a0bd8 (B-10) and fe50a7d0393a applied; B-4, B-6 remain",
            commits: &["d9dffd2a0bd8", "fe50a7d0393a"],
            bt: KernelProfile::CapsInSmTimeoutFix,
            si: SiProfile::V2016,
            printk: PrintkEra::Modern,
        },
        KernelPreset {
            name: "v4.19",
            kernels: "4.18-5.9",
            description: "4.18-5.9: caps in detect (B-6 fixed); B-4, B-8 remain",
            commits: &["1652a83fa494"],
            bt: KernelProfile::Mainline2018,
            si: SiProfile::V2016,
            printk: PrintkEra::KernCont,
        },
        KernelPreset {
            name: "mainline",
            kernels: "5.10-now (5.10-6.0: si = v2020)",
            description: "5.10-now: as v4.19 plus Get Device ID retries; B-4, B-8 remain",
            commits: &["0291023e7330"],
            bt: KernelProfile::Mainline,
            si: SiProfile::CURRENT,
            printk: PrintkEra::KernCont,
        },
        KernelPreset {
            name: "fixed-reset",
            kernels: "proposal",
            description: "mainline with the reset only during init (B-4 fix) and refused SI-internal starts completed (F-1, F-2); not upstream",
            commits: &[],
            bt: KernelProfile::FixedReset,
            si: SiProfile::PROPOSED,
            printk: PrintkEra::KernCont,
        },
        KernelPreset {
            name: "fixed-b8",
            kernels: "proposal",
            description: "mainline with B-4 and B-8 fixed, one reset per message, refused SI-internal starts completed (F-1, F-2) (proposal)",
            commits: &[],
            bt: KernelProfile::Proposed,
            si: SiProfile::PROPOSED,
            printk: PrintkEra::KernCont,
        },
    ];

    /// The names of [`ALL`](Self::ALL), in order (for help texts and errors).
    pub const NAMES: &'static [&'static str] = &PRESET_NAMES;

    /// 2.6.12-2.6.14 (alias of the `v2.6.12` row).
    pub const V2_6_12: Self = Self::named("v2.6.12");
    /// 2.6.31-3.13 (alias of the `v3.13` row).
    pub const V3_13: Self = Self::named("v3.13");
    /// 3.14-4.4 (alias of the `v3.14` row).
    pub const V3_14: Self = Self::named("v3.14");
    /// 4.5-4.17 (alias of the `v4.14` row).
    pub const V4_14: Self = Self::named("v4.14");
    /// 4.18-5.9 (alias of the `v4.19` row).
    pub const V4_19: Self = Self::named("v4.19");
    /// Current mainline (alias of the `mainline` row), the default.
    pub const MAINLINE: Self = Self::named("mainline");
    /// Mainline with the B-4 fix (alias of the `fixed-reset` row).
    pub const FIXED_RESET: Self = Self::named("fixed-reset");
    /// Mainline with the B-4 and B-8 fixes (alias of the `fixed-b8` row).
    pub const FIXED_B8: Self = Self::named("fixed-b8");

    /// The row called `name`; evaluated at compile time only (the aliases
    /// above), where a missing row fails the build.
    const fn named(name: &str) -> Self {
        let mut i = 0;
        while i < Self::ALL.len() {
            if str_eq(Self::ALL[i].name, name) {
                return Self::ALL[i];
            }
            i += 1;
        }
        panic!("no kernel preset of that name in KernelPreset::ALL")
    }

    /// The preset called `name` ([`name`](Self::name)), if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.name == name)
    }

    /// The BT state machine's switches for this kernel: `bt`'s, in this
    /// kernel's printk era.
    pub const fn behaviour(&self) -> Behaviour {
        let mut b = self.bt.behaviour();
        b.printk = self.printk;
        b
    }

    /// The name in the form the run header (`kernel V4_19: bt …`) has always
    /// shown: each `-`-separated word capitalised, `.` as `_` (`v4.19` →
    /// `V4_19`, `fixed-reset` → `FixedReset`).
    pub fn label(&self) -> String {
        let mut out = String::with_capacity(self.name.len());
        for word in self.name.split('-') {
            let mut chars = word.chars();
            if let Some(c) = chars.next() {
                out.extend(c.to_uppercase());
            }
            out.extend(chars.map(|c| if c == '.' { '_' } else { c }));
        }
        out
    }
}

impl Default for KernelPreset {
    /// Current mainline.
    fn default() -> Self {
        Self::MAINLINE
    }
}

impl core::fmt::Display for KernelPreset {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name)
    }
}

/// The named SI-layer profiles (`[driver] si = "v2014"`), one row per change
/// of `ipmi_si_intf.c` the model distinguishes (`spec-notes/si-driver.md`,
/// "Profiles ↔ commits").
impl SiProfile {
    /// 2.6.12 … 3.13: 100 µs init-wait credit (B-3), no restart, no retry.
    pub const PRE_2014: Self = Self {
        name: "pre-2014",
        kernels: "2.6.12 .. 3.13",
        init_wait_credit: InitWaitCredit::Fixed100us,
        restart_after_complete: false,
        get_device_id_retries: 0,
        unload_wait: UnloadWait::Poll10us,
        complete_refused_internal: false,
    };
    /// 3.14 … 4.4: e21404dc0ac7 applied.
    pub const V2014: Self = Self {
        name: "v2014",
        kernels: "3.14 .. 4.4",
        init_wait_credit: InitWaitCredit::JiffiesToUsecs,
        restart_after_complete: false,
        get_device_id_retries: 0,
        unload_wait: UnloadWait::Poll10us,
        complete_refused_internal: false,
    };
    /// 4.5 … 5.9: d9dffd2a0bd8 applied.
    pub const V2016: Self = Self {
        name: "v2016",
        kernels: "4.5 .. 5.9",
        init_wait_credit: InitWaitCredit::JiffiesToUsecs,
        restart_after_complete: true,
        get_device_id_retries: 0,
        unload_wait: UnloadWait::Poll10us,
        complete_refused_internal: false,
    };
    /// 5.10 … now: Get Device ID retried up to 5 times at probe.
    /// 5.10 … 6.0: Get Device ID retried up to 5 times at probe (release of
    /// the B-9 fix UNVERIFIED; taken as 6.1).
    pub const V2020: Self = Self {
        name: "v2020",
        kernels: "5.10 .. 6.0",
        init_wait_credit: InitWaitCredit::JiffiesToUsecs,
        restart_after_complete: true,
        get_device_id_retries: 5,
        unload_wait: UnloadWait::Poll10us,
        complete_refused_internal: false,
    };
    /// 6.1 … now: unload waits credit elapsed jiffies (B-9 fix).
    pub const CURRENT: Self = Self {
        name: "current",
        kernels: "6.1 .. mainline",
        init_wait_credit: InitWaitCredit::JiffiesToUsecs,
        restart_after_complete: true,
        get_device_id_retries: 5,
        unload_wait: UnloadWait::ElapsedSinceLastTimer,
        complete_refused_internal: false,
    };
    /// Our proposal on top of 6.1: an SI-internal message whose start the
    /// state machine refuses is completed with the refusal's code (F-1, F-2
    /// in `spec-notes/si-findings.md`; `patches/0005`). Not upstream.
    pub const PROPOSED: Self = Self {
        name: "proposed",
        kernels: "proposal",
        complete_refused_internal: true,
        ..Self::CURRENT
    };

    /// Every profile, oldest first.
    pub const ALL: [Self; 6] = [
        Self::PRE_2014,
        Self::V2014,
        Self::V2016,
        Self::V2020,
        Self::CURRENT,
        Self::PROPOSED,
    ];

    /// The names of [`ALL`](Self::ALL), in order (for help texts and errors).
    pub const NAMES: &'static [&'static str] = &SI_NAMES;

    /// The profile called `name` (`pre-2014`, `v2014`, `v2016`, `v2020`,
    /// `current`, `proposed`), if there is one. `pre2014`, the only spelling scenario
    /// files accepted before these names were read from this list, still
    /// reads as `pre-2014`.
    pub fn from_name(name: &str) -> Option<Self> {
        if name == "pre2014" {
            return Some(Self::PRE_2014);
        }
        Self::ALL.iter().copied().find(|p| p.name == name)
    }
}

const PRESET_NAMES: [&str; KernelPreset::ALL.len()] = {
    let mut out = [""; KernelPreset::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = KernelPreset::ALL[i].name;
        i += 1;
    }
    out
};

const SI_NAMES: [&str; SiProfile::ALL.len()] = {
    let mut out = [""; SiProfile::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = SiProfile::ALL[i].name;
        i += 1;
    }
    out
};

/// `a == b` for `&str` in const context.
const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for (i, p) in KernelPreset::ALL.iter().enumerate() {
            assert_eq!(KernelPreset::from_name(p.name), Some(*p));
            assert_eq!(KernelPreset::NAMES[i], p.name);
            assert!(KernelPreset::ALL[..i].iter().all(|q| q.name != p.name));
        }
        assert_eq!(KernelPreset::from_name("v9"), None);
        for (i, s) in SiProfile::ALL.iter().enumerate() {
            assert_eq!(SiProfile::from_name(s.name), Some(*s));
            assert_eq!(SiProfile::NAMES[i], s.name);
        }
        assert_eq!(SiProfile::from_name("v2099"), None);
        assert_eq!(SiProfile::from_name("pre2014"), Some(SiProfile::PRE_2014));
    }

    #[test]
    fn labels_are_the_run_header_names() {
        let labels: Vec<String> = KernelPreset::ALL.iter().map(|p| p.label()).collect();
        assert_eq!(
            labels,
            [
                "V2_6_12",
                "V3_13",
                "V3_14",
                "V4_14",
                "V4_19",
                "Mainline",
                "FixedReset",
                "FixedB8"
            ]
        );
    }

    #[test]
    fn behaviour_is_the_bt_profile_in_the_preset_printk_era() {
        for p in KernelPreset::ALL {
            let mut want = p.bt.behaviour();
            want.printk = p.printk;
            assert_eq!(p.behaviour(), want, "{}", p.name);
        }
        // The v3.x kernels are 2.6.31+: bt-sm's caps-in-sm joins as before it.
        assert_eq!(KernelPreset::V3_13.printk, PrintkEra::Modern);
        assert_eq!(KernelPreset::V3_14.printk, PrintkEra::Modern);
    }

    #[test]
    fn commits_are_abbreviated_hex_ids() {
        for p in KernelPreset::ALL {
            for c in p.commits {
                assert!(
                    c.len() == 12 && c.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{}: {c}",
                    p.name
                );
            }
        }
    }
}
