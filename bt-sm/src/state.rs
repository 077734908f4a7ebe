//! The states of the BT host state machine and their kernel names.
//!
//! Mirrors `enum bt_states` and `state2txt()` in `drivers/char/ipmi/ipmi_bt_sm.c`.
//! The kernel compares state *numbers* (`state < BT_STATE_WRITE_BYTES`, …), and the
//! numbering differs between designs, so the range tests live here as methods that
//! take the [`Design`] (kernel-bt.md §3).

/// Which generation of the state machine runs (states, timeouts, error recovery).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Design {
    /// Linux 2.6.12–2.6.19: 2 s timeout, 3 attempts, HOSED state, seq bumped per
    /// retry, no completion codes synthesised (`ipmi_bt_sm.c` "v33").
    Y2005,
    /// Linux 2.6.20 onwards ("IPMI: Fix BT long busy"): LONG_BUSY, force_result,
    /// completion codes, capabilities-driven timeout/retries.
    Y2006,
}

/// One state of the BT state machine, covering every design the kernel has had.
///
/// * 2006–today (`Design::Y2006`): `Idle` … `Restart`, `PrintMe`, `LongBusy`, plus
///   `CapabilitiesBegin`/`CapabilitiesEnd` in the 2006–2018 profiles.
/// * 2005 (`Design::Y2005`, Linux 2.6.12): `Idle`, `XactionStart`, `WriteBytes`,
///   `WriteEnd`, `WriteConsume`, `B2hWait`, `ReadEnd`, `Reset1` … `Restart`, `Hosed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// `BT_STATE_IDLE`: no transaction; polls for SMS_ATN.
    Idle,
    /// `BT_STATE_XACTION_START`: waiting for B_BUSY/H2B_ATN to drop before writing.
    XactionStart,
    /// `BT_STATE_WRITE_BYTES`: writing the request into HOST2BMC.
    WriteBytes,
    /// `BT_STATE_WRITE_CONSUME`: waiting for the BMC to take the request.
    WriteConsume,
    /// `BT_STATE_READ_WAIT` (2006+): waiting for B2H_ATN.
    ReadWait,
    /// `BT_STATE_CLEAR_B2H` (2006+): acknowledging B2H_ATN until it drops.
    ClearB2h,
    /// `BT_STATE_READ_BYTES` (2006+): reading and validating the response.
    ReadBytes,
    /// `BT_STATE_RESET1`: flag reset and drain before the soft reset.
    Reset1,
    /// `BT_STATE_RESET2`: send the `03 18 2A 03` soft-reset frame.
    Reset2,
    /// `BT_STATE_RESET3`: hold off for `BT_RESET_DELAY` (6 s).
    Reset3,
    /// `BT_STATE_RESTART`: re-arm and resend the same request.
    Restart,
    /// `BT_STATE_PRINTME` (2006+): pseudo-state, never entered; marks "print next".
    PrintMe,
    /// `BT_STATE_CAPABILITIES_BEGIN` (2006–2018): start Get BT Interface Capabilities.
    CapabilitiesBegin,
    /// `BT_STATE_CAPABILITIES_END` (2006–2018): apply the capabilities answer.
    CapabilitiesEnd,
    /// `BT_STATE_LONG_BUSY` (2006+): final timeout saw B_BUSY; wait for it to drop.
    LongBusy,
    /// `BT_STATE_WRITE_END` (2005 only): declared but never entered by the 2005 code.
    WriteEnd,
    /// `BT_STATE_B2H_WAIT` (2005 only): wait for B2H_ATN and read the response.
    B2hWait,
    /// `BT_STATE_READ_END` (2005 only): response accepted; bump seq and complete.
    ReadEnd,
    /// `BT_STATE_HOSED` (2005 only): retries exhausted; `event` returns `Hosed`.
    Hosed,
}

impl State {
    /// Every state, in no particular order (for exhaustive tests).
    pub const ALL: [State; 19] = [
        State::Idle,
        State::XactionStart,
        State::WriteBytes,
        State::WriteConsume,
        State::ReadWait,
        State::ClearB2h,
        State::ReadBytes,
        State::Reset1,
        State::Reset2,
        State::Reset3,
        State::Restart,
        State::PrintMe,
        State::CapabilitiesBegin,
        State::CapabilitiesEnd,
        State::LongBusy,
        State::WriteEnd,
        State::B2hWait,
        State::ReadEnd,
        State::Hosed,
    ];

    /// The kernel's `STATE2TXT` text (`"IDLE"`, `"XACTION"`, `"WR_BYTES"`, …);
    /// `PrintMe` prints as `"BAD STATE"` as in the kernel's fallback.
    pub const fn text(self) -> &'static str {
        match self {
            State::Idle => "IDLE",
            State::XactionStart => "XACTION",
            State::WriteBytes => "WR_BYTES",
            State::WriteConsume => "WR_CONSUME",
            State::ReadWait => "RD_WAIT",
            State::ClearB2h => "CLEAR_B2H",
            State::ReadBytes => "RD_BYTES",
            State::Reset1 => "RESET1",
            State::Reset2 => "RESET2",
            State::Reset3 => "RESET3",
            State::Restart => "RESTART",
            State::PrintMe => "BAD STATE",
            State::CapabilitiesBegin => "CAP_BEGIN",
            State::CapabilitiesEnd => "CAP_END",
            State::LongBusy => "LONG_BUSY",
            State::WriteEnd => "WR_END",
            State::B2hWait => "B2H_WAIT",
            State::ReadEnd => "RD_END",
            State::Hosed => "HOSED",
        }
    }

    /// The state's number in the kernel enum of the given design, as printed by
    /// `BT in invalid state %d`. `with_caps` selects the 2006–2018 numbering, which
    /// inserted CAP_BEGIN = 12 and CAP_END = 13 before LONG_BUSY = 14.
    /// States foreign to the design get the number after the last real one.
    pub const fn ordinal(self, design: Design, with_caps: bool) -> u8 {
        match design {
            Design::Y2005 => match self {
                State::Idle => 0,
                State::XactionStart => 1,
                State::WriteBytes => 2,
                State::WriteEnd => 3,
                State::WriteConsume => 4,
                State::B2hWait => 5,
                State::ReadEnd => 6,
                State::Reset1 => 7,
                State::Reset2 => 8,
                State::Reset3 => 9,
                State::Restart => 10,
                State::Hosed => 11,
                _ => 12,
            },
            Design::Y2006 => match self {
                State::Idle => 0,
                State::XactionStart => 1,
                State::WriteBytes => 2,
                State::WriteConsume => 3,
                State::ReadWait => 4,
                State::ClearB2h => 5,
                State::ReadBytes => 6,
                State::Reset1 => 7,
                State::Reset2 => 8,
                State::Reset3 => 9,
                State::Restart => 10,
                State::PrintMe => 11,
                State::CapabilitiesBegin if with_caps => 12,
                State::CapabilitiesEnd if with_caps => 13,
                State::LongBusy if with_caps => 14,
                State::LongBusy => 12,
                _ => 15,
            },
        }
    }

    /// Stale-response drain range: `state < BT_STATE_WRITE_BYTES` (IDLE and
    /// XACTION_START; 2006+ `bt_event`). The 2005 code has no drain.
    pub const fn drains_stale(self, design: Design) -> bool {
        matches!(design, Design::Y2006) && matches!(self, State::Idle | State::XactionStart)
    }

    /// Timeout is charged: 2006+ `state != IDLE && state < PRINTME` (1..=10);
    /// 2005 `state != IDLE` (every state but IDLE; HOSED returns before).
    pub const fn charges_time(self, design: Design) -> bool {
        match design {
            // The recovering states (1..=6) plus RESET1..RESTART (7..=10).
            Design::Y2006 => {
                self.timeout_recovers(design)
                    || matches!(
                        self,
                        State::Reset1 | State::Reset2 | State::Reset3 | State::Restart
                    )
            }
            Design::Y2005 => !matches!(self, State::Idle | State::Hosed),
        }
    }

    /// An expired timeout triggers error recovery: additionally `state < RESET1`.
    pub const fn timeout_recovers(self, design: Design) -> bool {
        match design {
            Design::Y2006 => matches!(
                self,
                State::XactionStart
                    | State::WriteBytes
                    | State::WriteConsume
                    | State::ReadWait
                    | State::ClearB2h
                    | State::ReadBytes
            ),
            Design::Y2005 => matches!(
                self,
                State::XactionStart
                    | State::WriteBytes
                    | State::WriteEnd
                    | State::WriteConsume
                    | State::B2hWait
                    | State::ReadEnd
            ),
        }
    }
}

impl core::fmt::Display for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_match_state2txt() {
        assert_eq!(State::XactionStart.text(), "XACTION");
        assert_eq!(State::ReadWait.text(), "RD_WAIT");
        assert_eq!(State::CapabilitiesBegin.text(), "CAP_BEGIN");
        assert_eq!(State::PrintMe.text(), "BAD STATE");
        assert_eq!(State::B2hWait.text(), "B2H_WAIT");
    }

    #[test]
    fn range_tests_match_section_3() {
        let d = Design::Y2006;
        let drains: Vec<_> = State::ALL.iter().filter(|s| s.drains_stale(d)).collect();
        assert_eq!(drains, [&State::Idle, &State::XactionStart]);
        let charged = State::ALL.iter().filter(|s| s.charges_time(d)).count();
        assert_eq!(charged, 10);
        let rec = State::ALL.iter().filter(|s| s.timeout_recovers(d)).count();
        assert_eq!(rec, 6);
        assert!(!State::LongBusy.charges_time(d));
        assert!(State::Reset3.charges_time(d) && !State::Reset3.timeout_recovers(d));
        assert!(!State::Idle.drains_stale(Design::Y2005));
    }

    #[test]
    fn time_ranges_are_the_kernels_enum_comparisons() {
        // ipmi_bt_sm.c bt_event: time is charged while `state != IDLE &&
        // state < BT_STATE_PRINTME`, and an expired timeout recovers only
        // while also `state < BT_STATE_RESET1` (enum order, PRINTME = 11,
        // RESET1 = 7, with or without the 2.6.20 capabilities states).
        for caps in [false, true] {
            for s in State::ALL {
                let n = s.ordinal(Design::Y2006, caps);
                assert_eq!(s.charges_time(Design::Y2006), n != 0 && n < 11, "{s:?}");
                assert_eq!(s.timeout_recovers(Design::Y2006), n != 0 && n < 7, "{s:?}");
            }
        }
    }

    #[test]
    fn ordinals() {
        assert_eq!(State::LongBusy.ordinal(Design::Y2006, false), 12);
        assert_eq!(State::LongBusy.ordinal(Design::Y2006, true), 14);
        assert_eq!(State::ReadBytes.ordinal(Design::Y2006, false), 6);
        assert_eq!(State::Hosed.ordinal(Design::Y2005, false), 11);
    }
}
