//! A model of the part of Linux's `drivers/char/ipmi/ipmi_msghandler.c` that
//! the simulated host needs: the message handler above the SI layer.
//!
//! It keeps one message outstanding at the SI layer ([`SiDriver::sender`]
//! has a single `waiting_msg` slot) and queues the rest; sends its own Get
//! Device ID after registration (`ipmi_register_smi`); runs the one-second
//! `ipmi_timeout` while a user that gets events exists, asking the SI layer
//! for events each tick (`ipmi_request_event`); and books what comes back as
//! [`Completion`]s, and what never does as [`Pending`].

use std::collections::VecDeque;
use std::time::Duration;

use ipmi_bt_sm::{CompletionCode, Level};

use super::bytes::MsgBytes;
use super::events::HostEvents;
use super::si::{Origin, SiDriver, SiEnv, SiMsg, SimDevice};
use ipmi_vocab::Instant;

/// `IPMI_TIMEOUT_TIME`: the period of `ipmi_timeout`.
const IPMI_TIMEOUT: Duration = Duration::from_secs(1);

/// `PFX` of `ipmi_msghandler.c` (`pr_fmt`/`dev_fmt` since 4.20): every
/// warning of the message handler starts with it.
const PFX: &str = "IPMI message handler: ";

/// `IPMI_ERR_UNSPECIFIED`: what the handler hands up instead of a response it
/// cannot use.
const IPMI_ERR_UNSPECIFIED: u8 = 0xFF;

/// The message handler's response check (`ipmi_msghandler.c`
/// `handle_one_recv_msg`, the first branches): a response shorter than two
/// bytes, or whose NetFn is not the request's NetFn | 1 or whose command is
/// not the request's, is replaced by `[NetFn|1, cmd, 0xFF]` and logged. The
/// BT state machine has already compared cmd, seq and NetFn *ignoring the
/// request/response bit* (`read_all_bytes`), so a BMC that answers with the
/// request's own NetFn (6 instead of 7) passes the BT layer and is caught
/// here. Returns the warning text (without device prefix) when it rewrote
/// `rsp`.
pub(crate) fn check_response(req: &[u8], rsp: &mut MsgBytes) -> Option<String> {
    let (Some(&req_netfn), Some(&req_cmd)) = (req.first(), req.get(1)) else {
        return None;
    };
    let expect_netfn = (req_netfn >> 2) | 1;
    let warning = match (rsp.first(), rsp.get(1)) {
        (Some(&netfn), Some(&cmd)) => {
            if netfn >> 2 == expect_netfn && cmd == req_cmd {
                return None;
            }
            format!(
                "{PFX}BMC returned incorrect response, expected netfn {expect_netfn:x} cmd {req_cmd:x}, got netfn {:x} cmd {cmd:x}",
                netfn >> 2
            )
        }
        _ => format!(
            "{PFX}BMC returned too small a message for netfn {expect_netfn:x} cmd {req_cmd:x}, got {} bytes",
            rsp.len()
        ),
    };
    *rsp = MsgBytes::from([req_netfn | (1 << 2), req_cmd, IPMI_ERR_UNSPECIFIED]);
    Some(warning)
}

/// A finished message: what was asked, what came back, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// Message id (submission order).
    pub id: u32,
    /// Who sent it.
    pub origin: Origin,
    /// Request bytes: `[NetFn<<2 | LUN, cmd, data…]`.
    pub request: MsgBytes,
    /// When the sender handed it over (queued behind others from here).
    pub submitted: Instant,
    /// When the SI layer started it (`start_transaction`).
    pub started: Instant,
    /// When the response reached the upper layer.
    pub completed: Instant,
    /// Response bytes: `[NetFn<<2 | LUN, cmd, cc, data…]` (may be synthesised).
    pub response: MsgBytes,
    /// Completion code (response byte 2; 0xFF if the response is shorter).
    pub cc: CompletionCode,
    /// True if the host made the response up (start refused or error recovery)
    /// rather than reading it from the BMC.
    pub synthesized: bool,
}

impl Completion {
    /// What a record holds before [`MsgHandler::collect`] fills it in.
    const BLANK: Self = Self {
        id: 0,
        origin: Origin::Handler,
        request: MsgBytes::new(),
        submitted: Instant::ZERO,
        started: Instant::ZERO,
        completed: Instant::ZERO,
        response: MsgBytes::new(),
        cc: CompletionCode(0),
        synthesized: false,
    };

    /// Request NetFn (without LUN).
    pub fn netfn(&self) -> u8 {
        self.request.first().map_or(0, |b| b >> 2)
    }
    /// Request command.
    pub fn cmd(&self) -> u8 {
        self.request.get(1).copied().unwrap_or(0)
    }
    /// Start-to-completion time.
    pub fn latency(&self) -> core::time::Duration {
        self.completed - self.started
    }
}

/// A message that was submitted but had not completed when the run stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Message id.
    pub id: u32,
    /// Who sent it.
    pub origin: Origin,
    /// Request bytes.
    pub request: MsgBytes,
    /// Submission time.
    pub submitted: Instant,
    /// Start time, if the SI layer had started it.
    pub started: Option<Instant>,
}

/// The message handler's state (`struct ipmi_smi` and its users, reduced to
/// what the model needs).
#[derive(Debug, Clone)]
pub(crate) struct MsgHandler {
    /// Messages not yet handed to the SI layer.
    queue: VecDeque<SiMsg>,
    /// The message at the SI layer.
    outstanding: Option<u32>,
    /// Outstanding messages whose user gets events (`gets_events`).
    event_waiters: Vec<u32>,
    /// Next tick of the one-second timer, while it runs.
    tick: Option<Instant>,
    /// Messages the SI layer dropped without a response.
    lost: Vec<SiMsg>,
    /// Finished messages, in completion order.
    completions: Vec<Completion>,
    /// Next message id (ids count submissions, probe messages included).
    next_id: u32,
    /// Room reserved for completions when the first one comes.
    expected_completions: usize,
    /// The handler's own warnings are `dev_warn(intf->si_dev, …)` (4.20+,
    /// device prefix) rather than `printk(KERN_WARNING PFX …)`.
    dev_log: bool,
}

impl Default for MsgHandler {
    fn default() -> Self {
        Self::new()
    }
}

impl MsgHandler {
    /// An idle handler; the first message id is 1.
    pub(crate) fn new() -> Self {
        Self {
            queue: VecDeque::new(),
            outstanding: None,
            event_waiters: Vec::new(),
            tick: None,
            lost: Vec::new(),
            completions: Vec::new(),
            next_id: 1,
            expected_completions: 0,
            dev_log: true,
        }
    }

    /// Whether the handler's warnings carry the device prefix (`dev_warn`,
    /// kernels with the `KernCont` printk era) or only its `PFX` (older).
    pub(crate) fn set_dev_log(&mut self, dev: bool) {
        self.dev_log = dev;
    }

    /// The next message id (ids so far + 1).
    #[inline]
    pub(crate) fn next_id(&self) -> u32 {
        self.next_id
    }

    /// The id counter, for the probe's synchronous messages
    /// ([`SiDriver::probe`]), which take ids from the same sequence.
    pub(crate) fn id_counter(&mut self) -> &mut u32 {
        &mut self.next_id
    }

    fn alloc_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Finished messages so far, in completion order.
    #[inline]
    pub(crate) fn completions(&self) -> &[Completion] {
        &self.completions
    }

    /// Make room for `n` completions when the first one comes (the
    /// scenario knows its workload; a run in which nothing completes
    /// reserves nothing).
    pub(crate) fn expect_completions(&mut self, n: usize) {
        self.expected_completions = n;
    }

    /// Book `c` (the first one reserves the expected room).
    #[inline]
    fn push_completion(&mut self, c: Completion) {
        if self.completions.capacity() == 0 {
            self.completions.reserve_exact(self.expected_completions);
        }
        self.completions.push(c);
    }

    /// Messages queued above the SI layer.
    #[inline]
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// When `ipmi_timeout` runs next, while its timer runs.
    #[inline]
    pub(crate) fn timer_deadline(&self) -> Option<Instant> {
        self.tick
    }

    /// `ipmi_register_smi`: the handler's own Get Device ID, queued ahead of
    /// everything else.
    pub(crate) fn register_smi<O: HostEvents>(&mut self, now: Instant, obs: &mut O) {
        let id = self.alloc_id();
        self.queue.push_front(SiMsg {
            id,
            origin: Origin::Handler,
            data: MsgBytes::from([0x06 << 2, 0x01]),
            submitted: now,
            started: None,
        });
        obs.submitted(now, id);
    }

    /// A user sends `data` (`[NetFn/LUN, cmd, data…]`) at `t`; returns the
    /// message id. A user that `gets_events` starts the one-second timer
    /// (`ipmi_set_gets_events` → `need_waiter`) if it is not running.
    pub(crate) fn submit<O: HostEvents>(
        &mut self,
        t: Instant,
        origin: Origin,
        data: MsgBytes,
        gets_events: bool,
        obs: &mut O,
    ) -> u32 {
        let id = self.alloc_id();
        // Filled where it lies (see `SiDriver::deliver_result`): the SI
        // layer takes it off the queue at once, and a message moved in whole
        // would be read back with loads that stall on the stores that wrote it.
        self.queue.push_back(SiMsg::BLANK);
        if let Some(m) = self.queue.back_mut() {
            m.id = id;
            m.origin = origin;
            m.data = data;
            m.submitted = t;
        }
        obs.submitted(t, id);
        if gets_events {
            self.event_waiters.push(id);
            if self.tick.is_none() {
                self.tick = Some(t + IPMI_TIMEOUT);
            }
        }
        id
    }

    /// `ipmi_timeout`, every `IPMI_TIMEOUT_TIME` (1 s) while needed: with
    /// event waiters, `ipmi_request_event` each tick (`IPMI_REQUEST_EV_TIME`
    /// = 1 tick). Without waiters the timer stops. Returns whether the SI
    /// layer should be asked for events now (the caller does that with
    /// [`SiDriver::request_events`] when the interface is up).
    pub(crate) fn timeout(&mut self, t: Instant) -> bool {
        if self.event_waiters.is_empty() {
            self.tick = None;
            return false;
        }
        self.tick = Some(t + IPMI_TIMEOUT);
        true
    }

    /// Whether [`feed`](Self::feed) would hand a message over (the same
    /// tests, inlined: the scheduler asks after every step and most of the
    /// time nothing is queued or a message is outstanding).
    #[inline]
    pub(crate) fn can_feed(&self, si: &SiDriver) -> bool {
        self.outstanding.is_none() && si.can_accept() && !self.queue.is_empty()
    }

    /// Hand the next queued message to the SI layer if none is outstanding
    /// there. Returns whether a message was handed over (or handed back).
    pub(crate) fn feed<D: SimDevice, O: HostEvents>(
        &mut self,
        si: &mut SiDriver,
        env: &mut SiEnv<'_, D, O>,
    ) -> bool {
        if self.outstanding.is_some() || !si.can_accept() {
            return false;
        }
        let Some(msg) = self.queue.pop_front() else {
            return false;
        };
        self.outstanding = Some(msg.id);
        if let Err(back) = si.sender(env, msg) {
            self.outstanding = None;
            self.queue.push_front(back);
        }
        true
    }

    /// Book the responses the SI layer delivered and the messages it lost
    /// (`deliver_response`). `on_complete(id, at)` is called per completion,
    /// after it is booked.
    pub(crate) fn collect<O: HostEvents>(
        &mut self,
        si: &mut SiDriver,
        now: Instant,
        obs: &mut O,
        mut on_complete: impl FnMut(u32, Instant),
    ) {
        let dev_log = self.dev_log;
        // One by one (the loop body does not touch the SI layer): a drain
        // would cost its drop on every call.
        while let Some(mut d) = si.pop_delivered() {
            // The probe's Get Device ID never reaches the message handler,
            // nor do the SI layer's own flag and enables requests: of its
            // internal messages only Get Message and Read Event Message
            // Buffer answers are handed up (ipmi_si_intf.c
            // handle_transaction_done, SI_GETTING_MESSAGES / SI_GETTING_EVENTS).
            let mut rewritten = false;
            let reaches_handler = match d.msg.origin {
                Origin::Probe { .. } => false,
                Origin::Internal => matches!(
                    d.msg.data.get(1),
                    Some(&(ipmi_vocab::app::GET_MESSAGE | ipmi_vocab::app::READ_EVENT_BUFFER))
                ),
                _ => true,
            };
            if reaches_handler {
                if let Some(warning) = check_response(&d.msg.data, &mut d.response) {
                    obs.set_now(d.at);
                    obs.line(Level::Warning, dev_log, &warning);
                    rewritten = true;
                }
            }
            let cc = CompletionCode(d.response.get(2).copied().unwrap_or(0xFF));
            let synthesized = d.synthesized || rewritten;
            let id = d.msg.id;
            let index = self.completions.len();
            // Filled in place, field by field (as `Recorder` does with its
            // events): a record built on the stack is moved with wide loads
            // that stall on the narrow stores that built it.
            self.push_completion(Completion::BLANK);
            if let Some(c) = self.completions.last_mut() {
                c.id = id;
                c.origin = d.msg.origin;
                c.request = d.msg.data;
                c.submitted = d.msg.submitted;
                c.started = d.msg.started.unwrap_or(d.msg.submitted);
                c.completed = d.at;
                c.response = d.response;
                c.cc = cc;
                c.synthesized = synthesized;
            }
            obs.completed(d.at, index);
            if self.outstanding == Some(id) {
                self.outstanding = None;
            }
            // The user has its answer (ipmitool closes the device).
            self.event_waiters.retain(|&w| w != id);
            on_complete(id, d.at);
        }
        for m in si.take_lost() {
            if self.outstanding == Some(m.id) {
                // The message handler never hears back: it stays outstanding.
                obs.dropped(now, m.id);
            }
            self.lost.push(m);
        }
    }

    /// Everything submitted that has not completed (held by the SI layer,
    /// lost by it, or still queued here), by id.
    pub(crate) fn pending(&self, si: &SiDriver) -> Vec<Pending> {
        let to_pending = |m: &SiMsg| Pending {
            id: m.id,
            origin: m.origin,
            request: m.data.clone(),
            submitted: m.submitted,
            started: m.started,
        };
        let mut pending: Vec<Pending> = si
            .in_flight()
            .chain(self.lost.iter())
            .chain(self.queue.iter())
            .map(to_pending)
            .collect();
        pending.sort_by_key(|p| p.id);
        pending
    }

    /// Take the completions out.
    pub(crate) fn into_completions(self) -> Vec<Completion> {
        self.completions
    }
}

#[cfg(test)]
mod tests {
    use super::check_response;
    use crate::host::bytes::MsgBytes;

    #[test]
    fn response_with_request_netfn_is_replaced_by_0xff_and_logged() {
        // Get Watchdog Timer (App 06/25) answered with NetFn 6 instead of 7.
        let mut rsp = MsgBytes::from([0x06 << 2, 0x25, 0x00, 0x44]);
        let w = check_response(&[0x06 << 2, 0x25], &mut rsp);
        assert_eq!(
            w.as_deref(),
            Some("IPMI message handler: BMC returned incorrect response, expected netfn 7 cmd 25, got netfn 6 cmd 25")
        );
        assert_eq!(rsp, vec![0x1C, 0x25, 0xFF]);
    }

    #[test]
    fn matching_response_passes_and_short_one_is_too_small() {
        let mut ok = MsgBytes::from([0x1C, 0x25, 0x00]);
        assert_eq!(check_response(&[0x18, 0x25], &mut ok), None);
        assert_eq!(ok, vec![0x1C, 0x25, 0x00]);
        let mut wrong_cmd = MsgBytes::from([0x1C, 0x24, 0x00]);
        assert!(check_response(&[0x18, 0x25], &mut wrong_cmd)
            .is_some_and(|w| w.ends_with("expected netfn 7 cmd 25, got netfn 7 cmd 24")));
        let mut short = MsgBytes::from([0x1C]);
        assert_eq!(
            check_response(&[0x18, 0x25], &mut short).as_deref(),
            Some("IPMI message handler: BMC returned too small a message for netfn 7 cmd 25, got 1 bytes")
        );
        assert_eq!(short, vec![0x1C, 0x25, 0xFF]);
    }
}
