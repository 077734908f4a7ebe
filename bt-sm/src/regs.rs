//! The three BT registers as the host sees them, with the bit names of
//! IPMI v2.0 §11.6 ("BT Interface Registers") and Linux `ipmi_bt_sm.c`.

use bitflags::bitflags;

/// Offset of BT_CTRL (status/control) from the interface base.
pub const BT_CTRL_OFFSET: u8 = 0;
/// Offset of the BMC2HOST (read) / HOST2BMC (write) buffer port.
pub const BT_BUF_OFFSET: u8 = 1;
/// Offset of BT_INTMASK (interrupt mask/status).
pub const BT_INTMASK_OFFSET: u8 = 2;

bitflags! {
    /// BT_CTRL bits (IPMI v2.0 §11.6.1, Table 11-1).
    ///
    /// Host write semantics: CLR_WR_PTR, CLR_RD_PTR and H2B_ATN are actions
    /// (write 1 to trigger), B2H_ATN and SMS_ATN are write-1-to-clear,
    /// H_BUSY *toggles* on a written 1, B_BUSY is read-only.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Ctrl: u8 {
        /// Clear the HOST2BMC write pointer.
        const CLR_WR_PTR = 0x01;
        /// Clear the BMC2HOST read pointer.
        const CLR_RD_PTR = 0x02;
        /// Host to BMC attention: a request is in the buffer.
        const H2B_ATN = 0x04;
        /// BMC to host attention: a response is ready.
        const B2H_ATN = 0x08;
        /// System Management Software attention: the BMC has a message or event.
        const SMS_ATN = 0x10;
        /// OEM-defined bit.
        const OEM0 = 0x20;
        /// Host busy (host is reading the response); a written 1 toggles it.
        const H_BUSY = 0x40;
        /// BMC busy (BMC is taking or processing a request); read-only to the host.
        const B_BUSY = 0x80;
    }
}

bitflags! {
    /// BT_INTMASK bits (IPMI v2.0 §11.6.2, Table 11-2).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct IntMask: u8 {
        /// BMC-to-host interrupt enable.
        const B2H_IRQ_EN = 0x01;
        /// BMC-to-host interrupt pending; host writes 1 to acknowledge.
        const B2H_IRQ = 0x02;
        /// Optional BMC hard reset request (host writes 1).
        const BMC_HWRST = 0x80;
    }
}
