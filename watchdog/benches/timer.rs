//! Throughput of the watchdog model on its hot paths: a petting loop
//! (Reset through `handle`, as the simulator dispatches it), Get encoding, and
//! arm → pre-timeout → expiry cycles driven by `next_deadline`/`advance`.

use core::time::Duration;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ipmi_watchdog::*;

fn armed(profile: CompatProfile) -> Watchdog {
    let mut wd = Watchdog::new(profile);
    let req = SetWatchdog {
        pretimeout_irq: PreTimeoutInterrupt::Messaging,
        pretimeout_secs: 2,
        ..SetWatchdog::new(
            TimerUse::SmsOs,
            TimerAction::HardReset,
            Countdown::from_ticks(100),
        )
    };
    wd.set(Instant::ZERO, &req).unwrap();
    wd.reset(Instant::ZERO).unwrap();
    wd
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("watchdog");
    g.throughput(Throughput::Elements(1));

    g.bench_function("handle_reset_pet", |b| {
        let mut wd = armed(CompatProfile::Spec);
        let mut now = Instant::ZERO;
        b.iter(|| {
            now += Duration::from_secs(1);
            black_box(wd.handle(now, CMD_RESET_WATCHDOG, &[]))
        });
    });

    g.bench_function("handle_get", |b| {
        let mut wd = armed(CompatProfile::Spec);
        let now = Instant::from_millis(1_234);
        b.iter(|| black_box(wd.handle(black_box(now), CMD_GET_WATCHDOG, &[])));
    });

    let set = SetWatchdog {
        pretimeout_irq: PreTimeoutInterrupt::Nmi,
        pretimeout_secs: 1,
        dont_stop: true,
        ..SetWatchdog::new(
            TimerUse::SmsOs,
            TimerAction::PowerCycle,
            Countdown::from_ticks(30),
        )
    }
    .encode();
    g.bench_function("arm_pretimeout_expire_cycle", |b| {
        let mut wd = Watchdog::new(CompatProfile::Spec);
        let mut now = Instant::ZERO;
        b.iter(|| {
            wd.handle(now, CMD_SET_WATCHDOG, &set);
            wd.handle(now, CMD_RESET_WATCHDOG, &[]);
            let mut fired = 0;
            while let Some(dl) = wd.next_deadline() {
                now = dl;
                fired += wd.advance(dl).len();
            }
            black_box(fired)
        });
    });

    g.bench_function("decode_set", |b| {
        b.iter(|| black_box(SetWatchdog::decode(black_box(&set))));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
