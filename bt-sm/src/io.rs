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
#[cfg_attr(test, mockall::automock)]
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
}
