//! Kernel behaviour profiles: named presets for each historical version of
//! `ipmi_bt_sm.c`, and the orthogonal [`Behaviour`] switches they map to, so a
//! user can also combine fixes that never shipped together.
//!
//! Sources: kernel-bt.md §0/§12 and the kernel trees read for
//! `spec-notes/kernel-bt-history.md`.
//!
//! | Preset (`name()`) | Kernels | design | caps | IDLE re-arm | reset rule | restart flag reset | log style | printk era | invalid-state warn | u8 read index | drain charges time | one reset | delay after mismatch |
//! |---|---|---|---|---|---|---|---|---|---|---|---|---|---|
//! | `Linux2005` (`linux-2.6.12`) | 2.6.12–2.6.14 (1da177e4c3f4) | Y2005 | never | – | `seq == 0 + 2` | no | Printk2005 | pre-2.6.31 | no | yes | no | no | no |
//! | `Linux2005Late` (`linux-2.6.19`) | 2.6.15–2.6.19: "ipmi: bt restart reset fixes" (Oct 2005) and other pre-2006 changes, as in the last file before "IPMI: Fix BT long busy" (y2005 variant `Linux2_6_19`) | Y2005 | never | – | `error_retries <= 2 + 1` | yes | Printk2005 (KERN_DEBUG lines) | pre-2.6.31 | no | yes | no | no | no |
//! | `CapsInSm` (`caps-in-sm`) | 2.6.20 ("IPMI: Fix BT long busy", Dec 2006) up to fe50a7d0393a | Y2006 | lazy in SM | after caps test | `seq <= retries` | – | Printk | pre-2.6.31 | no | yes | no | no | no |
//! | `CapsInSmTimeoutFix` (`caps-in-sm-fe50`) | fe50a7d0393a applied: 4.4.140 stable … 4.18-ish | Y2006 | lazy in SM | before caps test | `seq <= retries` | – | Printk | 2.6.31 (set `KernCont` for 4.9+) | no | no | no | no | no |
//! | `Mainline2018` (`mainline-2018`) | "Move BT capabilities detection to the detect call" (2018) e.g. 1652a83fa494 | Y2006 | in detect | none | `seq <= retries` | – | Printk (detect: Dev) | 4.9 KERN_CONT | no | no | no | no | no |
//! | `Mainline` (`mainline`) | current (dev_* messages; seen at 0291023e7330 copy) | Y2006 | in detect | none | `seq <= retries` | – | Dev | 4.9 KERN_CONT | yes | no | no | no | no |
//! | `FixedReset` (`fixed-reset`) | Mainline + seed-slides fix "ipmi: fix BT reset for a while when cmd timeout" (**UNVERIFIED upstream**) | Y2006 | in detect | none | `init` flag | – | Dev | 4.9 KERN_CONT | yes | no | no | no | no |
//! | `Proposed` (`proposed`, alias `all-fixes`) | this project's proposal: FixedReset + B-8 fix + at most one reset per transaction + B-13 fix | Y2006 | in detect | none | `init` flag | – | Dev | 4.9 KERN_CONT | yes | no | yes | yes | yes |

use crate::log::{Level, LineAssembler, LogStyle, PrintkEra};

// The state-machine generation ([`Design`]) is declared beside `State` (whose
// numbering depends on it); the crate root exports it with the other switches.
use crate::state::Design;

/// When Get BT Interface Capabilities (NetFn App, cmd 0x36) is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapsFetch {
    /// Never (2005): fixed 2 s / 2 retries.
    Never,
    /// Lazily inside the state machine (CAP_BEGIN/CAP_END), first time IDLE is
    /// reached with `BT_CAP_outreqs == 0` (2006–2018).
    LazyInSm,
    /// Synchronously in `bt_detect` (2018 onwards); see [`BtSm::detect`](crate::BtSm::detect).
    InDetect,
}

/// Details that changed inside the 2005 design between 2.6.12 and 2.6.19
/// (the intermediate commits are UNVERIFIED; both ends were read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Y2005Variant {
    /// 2.6.12: `time <= 0 || time >= 2 s` is charged as 100 µs; `reset_flags` writes
    /// INTMASK = 0x80; `error_recovery` prints one open-ended KERN_WARNING line;
    /// requests up to 272 bytes.
    Linux2_6_12,
    /// 2.6.19: time charged as passed; `reset_flags` drains a pending response
    /// (274 reads) instead of writing INTMASK; every `error_recovery` message is its
    /// own KERN_DEBUG line; requests up to 270 bytes.
    Linux2_6_19,
}

/// Which final failures take the BT soft-reset branch of `error_recovery`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResetRule {
    /// 2.6.12: `seq == FIRST_SEQ + BT_RETRY_LIMIT` ("most likely during insmod").
    SeqIsFirstPlusLimit,
    /// Late-2005 patch: `error_retries <= BT_RETRY_LIMIT + 1` (one reset, then HOSED).
    RetriesWithinLimitPlusOne,
    /// 2006–today: `seq <= (unsigned char)BT_CAP_retries` (kernel-bt.md §7.3 step 8).
    SeqWithinRetries,
    /// Seed-slides fix (UNVERIFIED upstream): reset only while the `init` flag is
    /// set (during detect/initialisation), see [`BtSm::set_init`](crate::BtSm::set_init).
    InitFlag,
}

/// Orthogonal behaviour switches of the model. Presets ([`KernelProfile`]) map
/// onto these; users may combine them freely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Behaviour {
    /// State machine generation.
    pub design: Design,
    /// Sub-variant of the 2005 design (ignored for `Design::Y2006`).
    pub y2005: Y2005Variant,
    /// Where capabilities are fetched (ignored for `Design::Y2005`, which never does).
    pub caps: CapsFetch,
    /// fe50a7d0393a "ipmi:bt: Set the timeout before doing a capabilities check":
    /// in IDLE re-arm the timeout before (true) or after (false) the caps diversion.
    /// Only meaningful with `CapsFetch::LazyInSm`.
    pub timeout_before_caps_check: bool,
    /// Reset decision of `error_recovery`.
    pub reset_rule: ResetRule,
    /// Late-2005 patch: RESTART calls `reset_flags` before resending (Y2005 only).
    pub restart_resets_flags: bool,
    /// Proposal: take the soft-reset branch at most once per transaction (B-4).
    pub reset_once_per_transaction: bool,
    /// Proposal for B-8: charge `time` (and run the timeout test) before the
    /// stale-response drain in XACTION_START, so a stuck B2H_ATN cannot stall a
    /// transaction forever.
    pub charge_time_in_drain: bool,
    /// Proposal for B-13 (found by this crate's liveness property): after a response
    /// that is not ours, READ_BYTES returns `CallWithDelay` instead of
    /// `CallWithoutDelay`, so a BMC that keeps toggling B2H_ATN with foreign
    /// responses cannot keep the SI layer's zero-time loop spinning forever.
    pub delay_after_mismatch: bool,
    /// B-11: the read loop index is an `unsigned char`, so a response length byte of
    /// 255 never terminates in the kernel (modelled as [`BtSm::cpu_hung`](crate::BtSm::cpu_hung)).
    pub byte_read_index: bool,
    /// Text style of the state machine's messages.
    pub log_style: LogStyle,
    /// How the kernel's printk of that era joins continuation lines.
    pub printk: PrintkEra,
    /// Newest code: `BT in invalid state %d` warning when start_transaction is refused.
    pub invalid_state_warning: bool,
    /// The `bt_debug` module parameter: 1 generic, 2 dump messages, 4 state changes.
    pub debug: u8,
}

impl Default for Behaviour {
    /// Current mainline.
    fn default() -> Self {
        KernelProfile::Mainline.behaviour()
    }
}

impl Behaviour {
    /// Level the soft-reset message is printed at (the late-2005 patch lowered it
    /// to KERN_DEBUG; every other version uses KERN_WARNING).
    pub fn reset_level(&self) -> Level {
        if self.y2005_quiet() {
            Level::Debug
        } else {
            Level::Warning
        }
    }

    /// 2.6.19-style 2005 logging: every error-recovery message a KERN_DEBUG line.
    pub fn y2005_quiet(&self) -> bool {
        self.design == Design::Y2005 && self.y2005 == Y2005Variant::Linux2_6_19
    }

    /// True when this behaviour fetches capabilities inside the state machine.
    pub fn caps_in_sm(&self) -> bool {
        self.design == Design::Y2006 && self.caps == CapsFetch::LazyInSm
    }

    /// True when `detect` runs the capabilities transaction.
    pub fn caps_in_detect(&self) -> bool {
        self.design == Design::Y2006 && self.caps == CapsFetch::InDetect
    }
}

/// Named presets for the kernel versions this model reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KernelProfile {
    /// Linux 2.6.12–2.6.14, the original import (1da177e4c3f41524e886b7f1b8a0c1fc7321cac2).
    /// B-1: HOSED, 2 s timeout, RESTART bumps seq, reset only when `seq == 2`.
    Linux2005,
    /// Linux 2.6.15–2.6.19: "[PATCH 7/9] ipmi: bt restart reset fixes" (Matt Domsch via
    /// Corey Minyard, 21 Oct 2005; hash and release UNVERIFIED) plus the other pre-2006
    /// changes seen in the last file before "IPMI: Fix BT long busy" (B-2): RESTART runs
    /// `reset_flags`; one soft reset after the retries, then HOSED; no time clamp;
    /// KERN_DEBUG messages.
    Linux2005Late,
    /// Linux 2.6.20 ("IPMI: Fix BT long busy", Rocky Craig, Dec 2006) up to the commit
    /// before fe50a7d0393a: capabilities fetched inside the SM (CAP_BEGIN/END), the
    /// timeout re-armed after the caps test, u8 read index. B-6 lives here.
    /// Printk joining of 2.6.20–2.6.30 (set `printk` to `Modern` for 2.6.31–4.17).
    CapsInSm,
    /// As [`CapsInSm`](Self::CapsInSm) with fe50a7d0393a552e4539da2d31261a59d6415950
    /// ("ipmi:bt: Set the timeout before doing a capabilities check", 4.4.140 stable,
    /// mainline 2018), wide read index, modern printk.
    CapsInSmTimeoutFix,
    /// 2018: "ipmi: Move BT capabilities detection to the detect call" (hash UNVERIFIED),
    /// as at torvalds/linux 1652a83fa494: caps in detect (dev_* text), SM messages still printk.
    Mainline2018,
    /// Current mainline: caps in detect, dev_* messages, `BT in invalid state %d`.
    Mainline,
    /// Mainline with the seed slides' proposed fix "ipmi: fix BT reset for a while when
    /// cmd timeout" (kernel-bt.md B-4): reset only while `init` is set. UNVERIFIED upstream.
    FixedReset,
    /// This project's proposal: `FixedReset` + charge time in the drain path (B-8) +
    /// at most one reset per transaction + delay after a foreign response (B-13). Not a kernel version.
    Proposed,
}

impl KernelProfile {
    /// Every preset, oldest first.
    pub const ALL: &'static [KernelProfile] = &[
        KernelProfile::Linux2005,
        KernelProfile::Linux2005Late,
        KernelProfile::CapsInSm,
        KernelProfile::CapsInSmTimeoutFix,
        KernelProfile::Mainline2018,
        KernelProfile::Mainline,
        KernelProfile::FixedReset,
        KernelProfile::Proposed,
    ];

    /// The switches this preset stands for (see the module table).
    pub const fn behaviour(self) -> Behaviour {
        let mainline = Behaviour {
            design: Design::Y2006,
            y2005: Y2005Variant::Linux2_6_12,
            caps: CapsFetch::InDetect,
            timeout_before_caps_check: true,
            reset_rule: ResetRule::SeqWithinRetries,
            restart_resets_flags: false,
            reset_once_per_transaction: false,
            charge_time_in_drain: false,
            delay_after_mismatch: false,
            byte_read_index: false,
            log_style: LogStyle::Dev,
            printk: PrintkEra::KernCont,
            invalid_state_warning: true,
            debug: 0,
        };
        match self {
            KernelProfile::Linux2005 => Behaviour {
                design: Design::Y2005,
                caps: CapsFetch::Never,
                timeout_before_caps_check: false,
                reset_rule: ResetRule::SeqIsFirstPlusLimit,
                byte_read_index: true,
                log_style: LogStyle::Printk2005,
                printk: PrintkEra::Pre2_6_31,
                invalid_state_warning: false,
                ..mainline
            },
            KernelProfile::Linux2005Late => Behaviour {
                design: Design::Y2005,
                caps: CapsFetch::Never,
                timeout_before_caps_check: false,
                y2005: Y2005Variant::Linux2_6_19,
                reset_rule: ResetRule::RetriesWithinLimitPlusOne,
                restart_resets_flags: true,
                byte_read_index: true,
                log_style: LogStyle::Printk2005,
                printk: PrintkEra::Pre2_6_31,
                invalid_state_warning: false,
                ..mainline
            },
            KernelProfile::CapsInSm => Behaviour {
                caps: CapsFetch::LazyInSm,
                timeout_before_caps_check: false,
                byte_read_index: true,
                log_style: LogStyle::Printk,
                printk: PrintkEra::Pre2_6_31,
                invalid_state_warning: false,
                ..mainline
            },
            KernelProfile::CapsInSmTimeoutFix => Behaviour {
                caps: CapsFetch::LazyInSm,
                timeout_before_caps_check: true,
                log_style: LogStyle::Printk,
                printk: PrintkEra::Modern,
                invalid_state_warning: false,
                ..mainline
            },
            KernelProfile::Mainline2018 => Behaviour {
                log_style: LogStyle::Printk,
                invalid_state_warning: false,
                ..mainline
            },
            KernelProfile::Mainline => mainline,
            KernelProfile::FixedReset => Behaviour {
                reset_rule: ResetRule::InitFlag,
                ..mainline
            },
            KernelProfile::Proposed => Behaviour {
                reset_rule: ResetRule::InitFlag,
                reset_once_per_transaction: true,
                charge_time_in_drain: true,
                delay_after_mismatch: true,
                ..mainline
            },
        }
    }

    /// Stable kebab-case name (CLI/scenario files).
    pub const fn name(self) -> &'static str {
        match self {
            KernelProfile::Linux2005 => "linux-2.6.12",
            KernelProfile::Linux2005Late => "linux-2.6.19",
            KernelProfile::CapsInSm => "caps-in-sm",
            KernelProfile::CapsInSmTimeoutFix => "caps-in-sm-fe50",
            KernelProfile::Mainline2018 => "mainline-2018",
            KernelProfile::Mainline => "mainline",
            KernelProfile::FixedReset => "fixed-reset",
            KernelProfile::Proposed => "proposed",
        }
    }

    /// One-line description for help texts.
    pub const fn description(self) -> &'static str {
        match self {
            KernelProfile::Linux2005 => {
                "Linux 2.6.12-2.6.14 original BT driver (HOSED, 2 s, seq==2 reset)"
            }
            KernelProfile::Linux2005Late => {
                "Linux 2.6.15-2.6.19 (bt restart reset fixes, Oct 2005; one reset then HOSED)"
            }
            KernelProfile::CapsInSm => {
                "Linux 2.6.20-4.17: caps fetched inside the SM, timeout re-armed after caps test"
            }
            KernelProfile::CapsInSmTimeoutFix => {
                "caps inside the SM with fe50a7d0393a (4.4.140 stable, 2018)"
            }
            KernelProfile::Mainline2018 => "2018: caps in detect, printk-style SM messages",
            KernelProfile::Mainline => "current mainline: caps in detect, dev_* messages",
            KernelProfile::FixedReset => {
                "mainline + reset only during init (seed-slides fix, UNVERIFIED upstream)"
            }
            KernelProfile::Proposed => {
                "fixed-reset + drain charges time (B-8) + one reset per transaction + delay after mismatch (B-13)"
            }
        }
    }

    /// Parse a [`name`](Self::name) (also accepts `all-fixes` for `Proposed`).
    pub fn from_name(name: &str) -> Option<Self> {
        if name == "all-fixes" {
            return Some(KernelProfile::Proposed);
        }
        Self::ALL.iter().copied().find(|p| p.name() == name)
    }
}

impl core::fmt::Display for KernelProfile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

// Declared here rather than in `log.rs` so that `log` (below `profile` in the
// module graph) does not depend on `Behaviour`.
impl LineAssembler {
    /// New assembler for the printk era of a behaviour (`Behaviour::printk`).
    pub fn for_behaviour(b: &Behaviour) -> Self {
        Self::new(b.printk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in KernelProfile::ALL {
            assert_eq!(KernelProfile::from_name(p.name()), Some(*p));
        }
        assert_eq!(
            KernelProfile::from_name("all-fixes"),
            Some(KernelProfile::Proposed)
        );
        assert_eq!(KernelProfile::from_name("nope"), None);
    }

    #[test]
    fn presets_map_to_documented_switches() {
        let b = KernelProfile::CapsInSm.behaviour();
        assert_eq!(b.caps, CapsFetch::LazyInSm);
        assert!(!b.timeout_before_caps_check);
        assert!(
            KernelProfile::CapsInSmTimeoutFix
                .behaviour()
                .timeout_before_caps_check
        );
        assert_eq!(
            KernelProfile::Mainline2018.behaviour().log_style,
            LogStyle::Printk
        );
        assert_eq!(
            KernelProfile::FixedReset.behaviour().reset_rule,
            ResetRule::InitFlag
        );
        let p = KernelProfile::Proposed.behaviour();
        assert!(p.charge_time_in_drain && p.reset_once_per_transaction);
        assert_eq!(Behaviour::default(), KernelProfile::Mainline.behaviour());
        assert_eq!(
            KernelProfile::Linux2005Late.behaviour().reset_level(),
            Level::Debug
        );
        assert_eq!(
            KernelProfile::Linux2005.behaviour().reset_level(),
            Level::Warning
        );
    }
}
