//! The embedded simulator, in this process: requests go straight to a
//! simulated BMC's command dispatch, with real time since the transport was
//! created as the BMC's clock (so a countdown visibly runs down).
//!
//! Each CLI invocation is a new process, so the in-process BMC starts fresh
//! every time: a `set` followed by a separate `get` will not see the `set`.
//! For state that persists across invocations, serve the simulator with
//! `bmcwd sim serve --socket PATH` and use `--socket PATH`.

use std::time::{Duration, Instant as WallInstant};

use bmc_sim::BmcPort;
use bmc_sim::Instant;
use ipmi_bt_sm::CompletionCode;

use super::{Request, Response, Transport, TransportError};

/// A [`BmcPort`] driven directly, in process.
pub struct SimTransport<B: BmcPort> {
    bmc: B,
    start: WallInstant,
}

impl<B: BmcPort> SimTransport<B> {
    /// Wraps `bmc`; its clock starts now.
    pub fn new(bmc: B) -> Self {
        Self {
            bmc,
            start: WallInstant::now(),
        }
    }

    /// The simulated BMC.
    pub fn bmc(&self) -> &B {
        &self.bmc
    }
}

impl<B: BmcPort> Transport for SimTransport<B> {
    fn send(&mut self, req: &Request, timeout: Duration) -> Result<Response, TransportError> {
        let now = Instant::ZERO + self.start.elapsed();
        self.bmc.advance(now);
        match self
            .bmc
            .handle_request(now, (req.netfn & !1) << 2, req.cmd, &req.data)
        {
            Some(reply) => Ok(Response {
                netfn: req.netfn | 1,
                cmd: req.cmd,
                cc: CompletionCode(reply.cc),
                data: reply.data,
            }),
            // A silent BMC: report what a real caller would see after waiting.
            None => Err(TransportError::Timeout {
                command: req.name(),
                after: timeout,
                peer: self.describe(),
            }),
        }
    }

    fn describe(&self) -> String {
        "embedded simulator".to_string()
    }
}
