//! Simulated BMC behind the IPMI BT registers.
