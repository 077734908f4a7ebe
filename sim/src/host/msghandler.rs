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

use ipmi_bt_sm::CompletionCode;

use super::events::HostEvents;
use super::si::{Origin, SiDriver, SiEnv, SiMsg, SimDevice};
use ipmi_vocab::Instant;

/// `IPMI_TIMEOUT_TIME`: the period of `ipmi_timeout`.
const IPMI_TIMEOUT: Duration = Duration::from_secs(1);

/// A finished message: what was asked, what came back, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// Message id (submission order).
    pub id: u32,
    /// Who sent it.
    pub origin: Origin,
    /// Request bytes: `[NetFn<<2 | LUN, cmd, data…]`.
    pub request: Vec<u8>,
    /// When the sender handed it over (queued behind others from here).
    pub submitted: Instant,
    /// When the SI layer started it (`start_transaction`).
    pub started: Instant,
    /// When the response reached the upper layer.
    pub completed: Instant,
    /// Response bytes: `[NetFn<<2 | LUN, cmd, cc, data…]` (may be synthesised).
    pub response: Vec<u8>,
    /// Completion code (response byte 2; 0xFF if the response is shorter).
    pub cc: CompletionCode,
    /// True if the host made the response up (start refused or error recovery)
    /// rather than reading it from the BMC.
    pub synthesized: bool,
}

impl Completion {
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
    pub request: Vec<u8>,
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
        }
    }

    /// The next message id (ids so far + 1).
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
    pub(crate) fn completions(&self) -> &[Completion] {
        &self.completions
    }

    /// Messages queued above the SI layer.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// When `ipmi_timeout` runs next, while its timer runs.
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
            data: vec![0x06 << 2, 0x01],
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
        data: Vec<u8>,
        gets_events: bool,
        obs: &mut O,
    ) -> u32 {
        let id = self.alloc_id();
        self.queue.push_back(SiMsg {
            id,
            origin,
            data,
            submitted: t,
            started: None,
        });
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
        for d in si.take_delivered() {
            let cc = CompletionCode(d.response.get(2).copied().unwrap_or(0xFF));
            let id = d.msg.id;
            let index = self.completions.len();
            self.completions.push(Completion {
                id,
                origin: d.msg.origin,
                request: d.msg.data,
                submitted: d.msg.submitted,
                started: d.msg.started.unwrap_or(d.msg.submitted),
                completed: d.at,
                response: d.response,
                cc,
                synthesized: d.synthesized,
            });
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
