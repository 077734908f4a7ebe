//! Message size limits shared by the host model, the BMC model and the servers.

/// Largest IPMI message the Linux driver handles: NetFn/LUN, cmd and data
/// (`IPMI_MAX_MSG_LENGTH` = 272, `include/uapi/linux/ipmi_msgdefs.h`). The BT
/// state machine's buffers and the SI layer's response buffer are sized by it.
pub const IPMI_MAX_MSG_LENGTH: usize = 272;

/// Largest IPMI message QEMU's BMC models carry, and so the largest BT buffer
/// the simulated device offers (`MAX_IPMI_MSG_SIZE` = 300,
/// `include/hw/ipmi/ipmi.h`).
pub const QEMU_MAX_IPMI_MSG_SIZE: usize = 300;
