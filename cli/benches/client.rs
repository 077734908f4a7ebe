//! Round-trip cost of one watchdog command through each simulated transport:
//! the embedded simulator (dispatch + codecs only) and the VM protocol over a
//! Unix socket to an in-process `VmServer` (framing, syscalls, tokio server).
//!
//! `cargo bench -p bmcwd --bench client`

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bmc_sim::vmproto::ServerOptions;
use bmc_sim::vmproto::VmServer;
use bmc_sim::vmproto::VmSimBmc;
use bmc_sim::{BmcConfig, SimBmc};
use bmcwd::Client;
use bmcwd::VmSocketTransport;
use criterion::{criterion_group, criterion_main, Criterion};
use ipmi_watchdog::{Countdown, SetWatchdog, TimerAction, TimerUse};

fn armed<T: bmcwd::transport::Transport>(c: &mut Client<T>) -> SetWatchdog {
    let set = SetWatchdog::new(
        TimerUse::SmsOs,
        TimerAction::HardReset,
        Countdown::from_ticks(36000),
    );
    c.set(&set).unwrap();
    c.pet(Some(&set)).unwrap();
    set
}

fn bench(c: &mut Criterion) {
    let mut sim = Client::new(
        bmcwd::transport::embedded_simulator(),
        Duration::from_secs(1),
    );
    let set = armed(&mut sim);
    c.bench_function("embedded sim: Get Watchdog Timer", |b| {
        b.iter(|| sim.get().unwrap())
    });
    c.bench_function("embedded sim: pet (Reset)", |b| {
        b.iter(|| sim.pet(Some(&set)).unwrap())
    });

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.sock");
    let server_path = path.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let bmc = VmSimBmc::new(SimBmc::new(BmcConfig::default()));
            let server = VmServer::new(Arc::new(Mutex::new(bmc)), ServerOptions::default());
            let _ = server.listen_unix(&server_path).await;
        });
    });
    while std::os::unix::net::UnixStream::connect(&path).is_err() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut sock = Client::new(
        VmSocketTransport::connect(&path).unwrap(),
        Duration::from_secs(5),
    );
    let set = armed(&mut sock);
    c.bench_function("unix socket VM protocol: Get Watchdog Timer", |b| {
        b.iter(|| sock.get().unwrap())
    });
    c.bench_function("unix socket VM protocol: pet (Reset)", |b| {
        b.iter(|| sock.pet(Some(&set)).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
