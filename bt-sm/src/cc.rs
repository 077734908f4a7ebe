//! IPMI completion codes (IPMI v2.0 §5.2, Table 5-2 "Completion Codes") with
//! their spec names, so every error a user sees can say what the code means.
//!
//! The type is defined once, in the workspace's vocabulary crate
//! (`ipmi_vocab::CompletionCode`); it is re-exported here so that
//! `ipmi_bt_sm::CompletionCode` keeps working for users of the state machine
//! alone.

pub use ipmi_vocab::CompletionCode;
