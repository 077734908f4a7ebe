//! The register-level I/O contract between the state machine and whatever sits
//! behind the three BT registers: a mock, a simulated BMC, or real port I/O.
//!
//! Mirrors the `inputb`/`outputb` accessors the kernel's `si_sm_io` provides to
//! `ipmi_bt_sm.c` (`BT_STATUS`, `BMC2HOST`, `HOST2BMC`, `BT_INTMASK_R/W` macros).

/// Byte-wide access to the BT registers, from the host's side.
///
/// Each method is exactly one register access: reads of the buffer port advance
/// the BMC's read pointer, writes advance its write pointer, and reads may have
/// side effects in the device, hence `&mut self`.
///
/// The two run methods ([`read_bufs`](Self::read_bufs),
/// [`write_bufs`](Self::write_bufs)) are the kernel's byte loops over the
/// buffer port (`read_all_bytes`, `write_all_bytes`). Their default bodies make
/// one single-byte access per byte; a device may override them with a faster
/// path that has exactly the same effect.
pub trait Io {
    /// Read BT_CTRL (offset 0).
    fn read_ctrl(&mut self) -> u8;
    /// Write BT_CTRL (offset 0).
    fn write_ctrl(&mut self, val: u8);
    /// Read the next BMC2HOST buffer byte (offset 1).
    fn read_buf(&mut self) -> u8;
    /// Write the next HOST2BMC buffer byte (offset 1).
    fn write_buf(&mut self, val: u8);
    /// Read BT_INTMASK (offset 2).
    fn read_intmask(&mut self) -> u8;
    /// Write BT_INTMASK (offset 2).
    fn write_intmask(&mut self, val: u8);
    /// Read `out.len()` BMC2HOST bytes in a row: the same as that many
    /// [`read_buf`](Self::read_buf) calls with no other access between them.
    fn read_bufs(&mut self, out: &mut [u8]) {
        for b in out {
            *b = self.read_buf();
        }
    }
    /// Write `bytes` to HOST2BMC in a row: the same as one
    /// [`write_buf`](Self::write_buf) call per byte, in order.
    fn write_bufs(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_buf(b);
        }
    }
}

// A mock of the six single-access methods; the run methods keep their
// default bodies, so a test's expectations see every byte (mockall uses the
// default body of a method `mock!` leaves out).
#[cfg(test)]
mockall::mock! {
    pub Io {}
    impl Io for Io {
        fn read_ctrl(&mut self) -> u8;
        fn write_ctrl(&mut self, val: u8);
        fn read_buf(&mut self) -> u8;
        fn write_buf(&mut self, val: u8);
        fn read_intmask(&mut self) -> u8;
        fn write_intmask(&mut self, val: u8);
    }
}

impl<T: Io + ?Sized> Io for &mut T {
    fn read_ctrl(&mut self) -> u8 {
        (**self).read_ctrl()
    }
    fn write_ctrl(&mut self, val: u8) {
        (**self).write_ctrl(val)
    }
    fn read_buf(&mut self) -> u8 {
        (**self).read_buf()
    }
    fn write_buf(&mut self, val: u8) {
        (**self).write_buf(val)
    }
    fn read_intmask(&mut self) -> u8 {
        (**self).read_intmask()
    }
    fn write_intmask(&mut self, val: u8) {
        (**self).write_intmask(val)
    }
    fn read_bufs(&mut self, out: &mut [u8]) {
        (**self).read_bufs(out)
    }
    fn write_bufs(&mut self, bytes: &[u8]) {
        (**self).write_bufs(bytes)
    }
}
