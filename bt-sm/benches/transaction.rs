//! Throughput of one complete Get Device ID transaction (start_transaction, the
//! event loop, get_result) against an instant in-memory BMC stub.
//!
//! Run: `cargo bench -p ipmi-bt-sm --bench transaction`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ipmi_bt_sm::{BtSm, Io, KernelProfile, NullLog, SmResult};

/// Takes the request on H2B_ATN and offers a canned Get Device ID answer at once.
struct InstantBmc {
    req: [u8; 8],
    wr: usize,
    rsp: [u8; 16],
    rd: usize,
    b2h: bool,
}

impl Io for InstantBmc {
    fn read_ctrl(&mut self) -> u8 {
        if self.b2h {
            0x08
        } else {
            0
        }
    }
    fn write_ctrl(&mut self, v: u8) {
        if v & 0x01 != 0 {
            self.wr = 0;
        }
        if v & 0x02 != 0 {
            self.rd = 0;
        }
        if v & 0x08 != 0 {
            self.b2h = false;
        }
        if v & 0x04 != 0 {
            self.rsp[1] = self.req[1] | 4;
            self.rsp[2] = self.req[2];
            self.rsp[3] = self.req[3];
            self.b2h = true;
        }
    }
    fn read_buf(&mut self) -> u8 {
        let b = self.rsp.get(self.rd).copied().unwrap_or(0);
        self.rd += 1;
        b
    }
    fn write_buf(&mut self, v: u8) {
        if let Some(s) = self.req.get_mut(self.wr) {
            *s = v;
        }
        self.wr += 1;
    }
    fn read_intmask(&mut self) -> u8 {
        0
    }
    fn write_intmask(&mut self, _v: u8) {}
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("bt_sm");
    g.throughput(Throughput::Elements(1));
    g.bench_function("get_device_id_transaction", |b| {
        let mut sm = BtSm::new(KernelProfile::Mainline);
        let mut bmc = InstantBmc {
            req: [0; 8],
            wr: 0,
            rsp: [
                15, 0, 0, 0, 0x00, 0x20, 0x81, 0x05, 0x02, 0xBF, 0x57, 0x01, 0x00, 0x23, 0x01, 0x00,
            ],
            rd: 0,
            b2h: false,
        };
        let mut out = [0u8; 64];
        b.iter(|| {
            sm.start_transaction(&mut NullLog, black_box(&[0x18, 0x01]))
                .unwrap();
            let mut r = sm.event(&mut bmc, &mut NullLog, 0);
            while r != SmResult::TransactionComplete {
                r = sm.event(
                    &mut bmc,
                    &mut NullLog,
                    if r == SmResult::CallWithDelay {
                        1000
                    } else {
                        0
                    },
                );
            }
            black_box(sm.get_result(&mut out))
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
