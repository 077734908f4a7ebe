//! Property tests: arbitrary host register traffic and fault changes never
//! make the simulated BMC panic, go back in time, spin, or break the BT
//! register invariants.

use core::time::Duration;

use bmc_sim::Instant;
use bmc_sim::{BmcConfig, SimBmc};
use bmc_sim::{Fault, FaultKind};
use ipmi_bt_sm::Io;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    ReadCtrl,
    WriteCtrl(u8),
    ReadBuf,
    WriteBuf(u8),
    ReadMask,
    WriteMask(u8),
    Wait(u32),
    Fault(u8, u8),
    Stop(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::ReadCtrl),
        any::<u8>().prop_map(Op::WriteCtrl),
        Just(Op::ReadBuf),
        any::<u8>().prop_map(Op::WriteBuf),
        Just(Op::ReadMask),
        any::<u8>().prop_map(Op::WriteMask),
        (0u32..3_000_000).prop_map(Op::Wait),
        (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::Fault(a, b)),
        any::<u8>().prop_map(Op::Stop),
    ]
}

fn fault(sel: u8, p: u8) -> Fault {
    match sel % 17 {
        0 => Fault::Silent,
        1 => Fault::StuckBusy,
        2 => Fault::NeverClearH2b,
        3 => Fault::Slow {
            latency: Duration::from_millis(u64::from(p) * 10),
        },
        4 => Fault::LoseResponses {
            count: Some(u32::from(p % 4)),
        },
        5 => Fault::RandomLoss {
            per_mille: u16::from(p) * 4,
        },
        6 => Fault::WrongSeq {
            seq_delta: p,
            correct_after: Some(Duration::from_millis(5)),
        },
        7 => Fault::StaleResponse {
            correct_after: None,
        },
        8 => Fault::DuplicateResponse,
        9 => Fault::CorruptLength { len: p },
        10 => Fault::StuckB2h,
        11 => Fault::ReadsFf,
        12 => Fault::BmcReset {
            keep_watchdog: p & 1 == 0,
        },
        13 => Fault::Reconnect,
        14 => Fault::IgnoreCommand { netfn: 6, cmd: p },
        15 => Fault::HoldBusy,
        _ => Fault::ErrorResponse { cc: p },
    }
}

fn run(cfg: BmcConfig, ops: &[Op]) {
    let mut bmc = SimBmc::new(cfg);
    let mut t = Instant::ZERO;
    for op in ops {
        match *op {
            Op::ReadCtrl => {
                let v = bmc.io(t).read_ctrl();
                if v != 0xFF {
                    assert_eq!(v & 0x03, 0, "CLR_WR_PTR/CLR_RD_PTR read back 0");
                }
            }
            Op::WriteCtrl(v) => bmc.io(t).write_ctrl(v),
            Op::ReadBuf => {
                bmc.io(t).read_buf();
            }
            Op::WriteBuf(v) => bmc.io(t).write_buf(v),
            Op::ReadMask => {
                let v = bmc.io(t).read_intmask();
                if v != 0xFF {
                    assert_eq!(v & 0xFC, 0, "only B2H_IRQ_EN/B2H_IRQ read back");
                }
            }
            Op::WriteMask(v) => bmc.io(t).write_intmask(v),
            Op::Wait(us) => {
                t += Duration::from_micros(u64::from(us));
                // Jump deadline to deadline, as a scheduler would.
                let mut hops = 0;
                while let Some(d) = bmc.next_deadline() {
                    assert!(d >= bmc.now(), "deadline in the past");
                    if d > t {
                        break;
                    }
                    bmc.advance(d);
                    hops += 1;
                    assert!(hops < 10_000, "deadline does not move: {d}");
                }
                bmc.advance(t);
            }
            Op::Fault(s, p) => bmc.inject(t, fault(s, p)),
            Op::Stop(k) => bmc.clear(t, FaultKind::ALL[usize::from(k) % FaultKind::ALL.len()]),
        }
        assert_eq!(bmc.now(), t);
        let st = bmc.device().state();
        assert!(st.b2h_rd <= st.b2h_len);
        assert!(usize::from(st.b2h_len) <= bmc.device().buf_size());
    }
    let _ = bmc.drain_events().count();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn default_bmc_survives_anything(ops in proptest::collection::vec(op(), 1..200)) {
        run(BmcConfig::default(), &ops);
    }

    #[test]
    fn qemu_bmc_survives_anything(ops in proptest::collection::vec(op(), 1..200)) {
        run(BmcConfig { latency_jitter: Duration::from_micros(300), ..BmcConfig::qemu() }, &ops);
    }
}
