//! Every command the simulated BMC answers, the watchdog model answers and the
//! `bmcwd` client sends is named in `ipmi_vocab`'s one table, marked there
//! with who uses it, and labelled with that name on the timeline (issue #9,
//! review R1). A dispatcher arm, a client command or a timeline label that
//! drifts from the table fails here.

use std::collections::BTreeSet;
use std::time::Duration;

use bmc_sim::Instant;
use bmc_sim::{BmcConfig, SimBmc};
use bmcwd::transport::{Request, Response, Transport, TransportError};
use bmcwd::{stop_request, Client};
use bmcwd::{GetWatchdogTimer, ResetWatchdogTimer, SetWatchdogTimer};
use ipmi_rs::connection::Message;
use ipmi_vocab::{command_name, lookup, CompletionCode, NetFn, Users, COMMANDS};
use ipmi_watchdog::{CompatProfile, Countdown, SetWatchdog, TimerAction, TimerUse, Watchdog};

/// The (request NetFn, cmd) pairs the vocabulary marks with `who`.
fn marked(who: Users) -> BTreeSet<(u8, u8)> {
    COMMANDS
        .iter()
        .filter(|c| c.users.contains(who))
        .map(|c| (c.netfn.request(), c.cmd))
        .collect()
}

fn name_of(netfn: u8, cmd: u8) -> String {
    command_name(netfn, cmd)
        .map(str::to_string)
        .unwrap_or_else(|| format!("unnamed NetFn 0x{netfn:02X} cmd 0x{cmd:02X}"))
}

/// Sends every command number of every standard NetFn, with no data, to a
/// fresh simulated BMC (a Cold Reset must not disturb the next command).
#[test]
fn simulated_bmc_answers_exactly_the_commands_marked_sim_bmc() {
    let mut answered = BTreeSet::new();
    for nf in NetFn::ALL {
        for cmd in 0..=u8::MAX {
            let mut bmc: SimBmc = SimBmc::new(BmcConfig::default());
            let r = bmc.handle_command(Instant::ZERO, nf.netfn_lun(0), cmd, &[]);
            if r.cc != CompletionCode::INVALID_COMMAND {
                answered.insert((nf.request(), cmd));
            }
        }
    }
    let want = marked(Users::SIM_BMC);
    let unmarked: Vec<String> = answered
        .difference(&want)
        .map(|&(n, c)| name_of(n, c))
        .collect();
    let unanswered: Vec<String> = want
        .difference(&answered)
        .map(|&(n, c)| name_of(n, c))
        .collect();
    assert!(
        unmarked.is_empty(),
        "answered but not marked SIM_BMC: {unmarked:?}"
    );
    assert!(
        unanswered.is_empty(),
        "marked SIM_BMC but answered 0xC1: {unanswered:?}"
    );
    assert!(
        answered.len() >= 18,
        "the sweep reached the dispatcher: {answered:?}"
    );

    // The timeline labels each of them with its vocabulary name (the old
    // table called Reserve SEL "command" and Storage 0x10 "Get SEL Info").
    for &(n, c) in &answered {
        let Some(entry) = lookup(n, c) else {
            panic!("{} has no vocabulary entry", name_of(n, c));
        };
        assert_eq!(bmc_sim::scenario::command_name(n, c), entry.name);
        assert_eq!(bmc_sim::scenario::command_name(n | 1, c), entry.name);
    }
    assert_eq!(bmc_sim::scenario::command_name(0x0A, 0x42), "Reserve SEL");
    assert_eq!(
        bmc_sim::scenario::command_name(0x0A, 0x10),
        "Get FRU Inventory Area Info"
    );
    assert_eq!(bmc_sim::scenario::command_name(0x0A, 0x40), "Get SEL Info");
    assert_eq!(bmc_sim::scenario::command_name(0x06, 0x37), "command");
}

#[test]
fn watchdog_model_answers_exactly_the_commands_marked_watchdog() {
    let mut answered = BTreeSet::new();
    for cmd in 0..=u8::MAX {
        let mut wd = Watchdog::new(CompatProfile::default());
        if wd.handle(ipmi_watchdog::Instant::ZERO, cmd, &[]).is_some() {
            answered.insert((NetFn::App.request(), cmd));
        }
    }
    assert_eq!(answered, marked(Users::WATCHDOG));
    for &(n, c) in &answered {
        assert_eq!(ipmi_watchdog::command_name(c), name_of(n, c));
    }
}

/// A transport that answers from a simulated BMC and records every request.
struct Recording {
    bmc: SimBmc,
    now: Instant,
    sent: BTreeSet<(u8, u8)>,
}

impl Transport for Recording {
    fn send(&mut self, req: &Request, _timeout: Duration) -> Result<Response, TransportError> {
        self.sent.insert((req.netfn, req.cmd));
        self.now += Duration::from_millis(10);
        let r = self.bmc.handle_command(
            self.now,
            ipmi_vocab::pack_netfn_lun(req.netfn, 0),
            req.cmd,
            &req.data,
        );
        Ok(Response {
            netfn: req.netfn | 1,
            cmd: req.cmd,
            cc: r.cc,
            data: r.data().to_vec(),
        })
    }

    fn describe(&self) -> String {
        "recording simulator".to_string()
    }
}

#[test]
fn every_command_the_cli_sends_is_named_and_marked_cli() {
    // The ipmi-rs commands the CLI builds (cli/src/commands.rs) …
    let set = SetWatchdog::new(
        TimerUse::SmsOs,
        TimerAction::HardReset,
        Countdown::from_ticks(600),
    );
    let built: BTreeSet<(u8, u8)> = [
        Message::from(ResetWatchdogTimer),
        Message::from(SetWatchdogTimer(set)),
        Message::from(GetWatchdogTimer),
    ]
    .iter()
    .map(|m| (m.netfn_raw(), m.cmd()))
    .collect();

    // … and what the client actually sends through a transport: a pet with no
    // Set yet (0x80, re-Set, Reset), Set, Get, and a stop.
    let mut client = Client::new(
        Recording {
            bmc: SimBmc::new(BmcConfig::default()),
            now: Instant::ZERO,
            sent: BTreeSet::new(),
        },
        Duration::from_secs(1),
    );
    client.pet(Some(&set)).expect("pet");
    client.set(&set).expect("set");
    let reading = client.get().expect("get");
    client.set(&stop_request(&reading)).expect("stop");
    let sent = client.into_inner().sent;

    assert!(built.is_subset(&sent), "built {built:?}, sent {sent:?}");
    for &(n, c) in &sent {
        assert!(
            command_name(n, c).is_some(),
            "the CLI sends {} without a name",
            name_of(n, c)
        );
        assert_eq!(bmcwd::transport::command_name(n, c), name_of(n, c));
    }
    assert_eq!(
        sent,
        marked(Users::CLI),
        "CLI marks in ipmi_vocab::COMMANDS"
    );
}
