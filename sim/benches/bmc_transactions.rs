//! Throughput of the simulated BMC: whole BT transactions per second, with a
//! register-level host (the Linux access sequence) and with `ipmi_bt_sm::BtSm`.
//!
//! Run: `cargo bench -p bmc-sim --bench bmc_transactions`

use core::time::Duration;

use bmc_sim::Instant;
use bmc_sim::{BmcConfig, SimBmc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ipmi_bt_sm::{BtSm, Io, KernelProfile, NullLog, SmResult};

/// One Get Device ID at register level; returns the completion code.
fn raw_transaction(bmc: &mut SimBmc, seq: u8) -> u8 {
    let t = bmc.now();
    let io = bmc.io(t);
    io.write_ctrl(0x01);
    for b in [3, 0x18, seq, 0x01] {
        io.write_buf(b);
    }
    io.write_ctrl(0x04);
    while bmc.read_ctrl() & 0x08 == 0 {
        match bmc.next_deadline() {
            Some(t) => bmc.advance(t),
            None => return 0xFF,
        }
    }
    bmc.write_ctrl(0x40);
    bmc.write_ctrl(0x08);
    bmc.write_ctrl(0x02);
    let len = bmc.read_buf();
    let mut cc = 0;
    for i in 0..len {
        let b = bmc.read_buf();
        if i == 3 {
            cc = b;
        }
    }
    bmc.write_ctrl(0x40);
    cc
}

/// One Get Device ID through the kernel state machine, 1 ms ticks.
fn sm_transaction(bmc: &mut SimBmc, sm: &mut BtSm) -> usize {
    let mut t = bmc.now();
    if sm.start_transaction(&mut NullLog, &[0x18, 0x01]).is_err() {
        return 0;
    }
    let mut elapsed = 0;
    loop {
        let mut r = sm.event(bmc.io(t), &mut NullLog, elapsed);
        while r == SmResult::CallWithoutDelay {
            r = sm.event(bmc.io(t), &mut NullLog, 0);
        }
        if r == SmResult::TransactionComplete {
            let mut buf = [0u8; 64];
            return sm.get_result(&mut buf);
        }
        t += Duration::from_millis(1);
        elapsed = 1_000;
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("bmc");
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw_get_device_id_default", |b| {
        let mut bmc = SimBmc::new(BmcConfig {
            event_capacity: 0,
            ..BmcConfig::default()
        });
        let mut seq = 0u8;
        b.iter(|| {
            seq = seq.wrapping_add(1);
            raw_transaction(&mut bmc, seq)
        })
    });
    g.bench_function("raw_get_device_id_qemu", |b| {
        let mut bmc = SimBmc::new(BmcConfig {
            event_capacity: 0,
            ..BmcConfig::qemu()
        });
        let mut seq = 0u8;
        b.iter(|| {
            seq = seq.wrapping_add(1);
            raw_transaction(&mut bmc, seq)
        })
    });
    g.bench_function("btsm_get_device_id_default", |b| {
        let mut bmc = SimBmc::new(BmcConfig {
            event_capacity: 0,
            ..BmcConfig::default()
        });
        let mut sm = BtSm::new(KernelProfile::Mainline);
        b.iter(|| sm_transaction(&mut bmc, &mut sm))
    });
    g.finish();
    let _ = Instant::ZERO;
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
