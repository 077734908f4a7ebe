//! The hot path (start_transaction, event, get_result) never allocates: counted
//! with a global allocator wrapper over a full transaction, a timeout with retry,
//! and a BT reset cycle, with debug output on (records go to a no-op sink).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ipmi_bt_sm::{BtSm, Io, KernelProfile, NullLog, SmResult};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Answers instantly unless `silent`; CTRL reads back 0x01 when silent (non-zero status).
struct Stub {
    req: [u8; 8],
    wr: usize,
    rsp: [u8; 6],
    rd: usize,
    b2h: bool,
    silent: bool,
}

impl Io for Stub {
    fn read_ctrl(&mut self) -> u8 {
        if self.b2h {
            0x08
        } else if self.silent {
            0x01
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
        if v & 0x04 != 0 && !self.silent {
            self.rsp = [5, self.req[1] | 4, self.req[2], self.req[3], 0, 0x20];
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

#[test]
fn hot_path_does_not_allocate() {
    let mut sm = BtSm::new(KernelProfile::Mainline);
    sm.set_debug(7);
    let mut bmc = Stub {
        req: [0; 8],
        wr: 0,
        rsp: [0; 6],
        rd: 0,
        b2h: false,
        silent: false,
    };
    let mut out = [0u8; 64];
    let before = ALLOCS.load(Ordering::SeqCst);
    // normal transaction
    sm.start_transaction(&mut NullLog, &[0x18, 0x01]).unwrap();
    let mut r = sm.event(&mut bmc, &mut NullLog, 0);
    while r != SmResult::TransactionComplete {
        r = sm.event(&mut bmc, &mut NullLog, 1000);
    }
    let n = sm.get_result(&mut out);
    // silent BMC with non-zero status and small seq: retry, reset, restart
    bmc.silent = true;
    sm.start_transaction(&mut NullLog, &[0x18, 0x01]).unwrap();
    for _ in 0..3000 {
        sm.event(&mut bmc, &mut NullLog, 10_000);
    }
    let after = ALLOCS.load(Ordering::SeqCst);
    assert_eq!(n, 4);
    assert!(sm.error_retries() >= 2, "went through retry and reset");
    assert_eq!(after - before, 0, "allocations on the hot path");
    // the counter works: a text sink does allocate
    let mut text: Vec<String> = Vec::with_capacity(0);
    sm.start_transaction(&mut text, &[0x18, 0x01]).unwrap_err();
    sm.event(&mut bmc, &mut text, 10_000);
    assert!(ALLOCS.load(Ordering::SeqCst) > after);
}
