//! What the watchdog commands print: ipmitool-familiar text (the layout of
//! `ipmitool mc watchdog get`, `lib/ipmi_mc.c`) or JSON.

use std::fmt::Write as _;

use ipmi_watchdog::{Countdown, ExpirationFlags, SetWatchdog, TimerUse};
use serde_json::{json, Value};

use crate::commands::WatchdogReading;

/// Seconds with one decimal, as ipmitool prints countdowns (`"10.0"`).
pub fn secs(c: Countdown) -> String {
    format!("{}.{}", c.ticks() / 10, c.ticks() % 10)
}

fn secs_f64(c: Countdown) -> f64 {
    f64::from(c.ticks()) / 10.0
}

/// The timer uses whose expiration flag is set.
pub fn expired_uses(flags: ExpirationFlags) -> Vec<TimerUse> {
    TimerUse::ALL
        .into_iter()
        .filter(|u| flags.contains(u.expiration_flag()))
        .collect()
}

/// `ipmitool mc watchdog get`-style text.
pub fn reading_text(r: &WatchdogReading) -> String {
    let mut s = String::new();
    let use_name = r.timer_use().map_or("Reserved", |u| u.ipmitool_name());
    let action_name = r.action().map_or("Reserved", |a| a.ipmitool_name());
    let irq_name = r.pretimeout_irq().map_or("Reserved", |i| i.ipmitool_name());
    let _ = writeln!(
        s,
        "Watchdog Timer Use:     {use_name} (0x{:02x})",
        r.use_byte
    );
    let _ = writeln!(
        s,
        "Watchdog Timer Is:      {}",
        if r.running() {
            "Started/Running"
        } else {
            "Stopped"
        }
    );
    let _ = writeln!(
        s,
        "Watchdog Timer Logging: {}",
        if r.dont_log() { "Off" } else { "On" }
    );
    let _ = writeln!(
        s,
        "Watchdog Timer Action:  {action_name} (0x{:02x})",
        r.action_byte
    );
    let _ = writeln!(s, "Pre-timeout interrupt:  {irq_name}");
    let _ = writeln!(s, "Pre-timeout interval:   {} seconds", r.pretimeout_secs);
    let bits = r.expiration_flags.bits();
    let _ = writeln!(
        s,
        "Timer Expiration Flags: {}(0x{bits:02x})",
        if bits == 0 { "None " } else { "" }
    );
    for u in expired_uses(r.expiration_flags) {
        let _ = writeln!(s, "                        * {}", u.ipmitool_name());
    }
    let _ = writeln!(
        s,
        "Initial Countdown:      {} sec",
        secs(r.initial_countdown)
    );
    match r.present_countdown {
        Some(p) => {
            let _ = writeln!(s, "Present Countdown:      {} sec", secs(p));
        }
        None => {
            let _ = writeln!(
                s,
                "Present Countdown:      not reported (the BMC sent a 6-byte response)"
            );
        }
    }
    s
}

/// JSON for a Get.
pub fn reading_json(r: &WatchdogReading) -> Value {
    json!({
        "timer_use": r.timer_use().map(|u| u.cli_name()),
        "timer_use_raw": r.use_byte & 0x07,
        "running": r.running(),
        "logging": !r.dont_log(),
        "action": r.action().map(|a| a.cli_name()),
        "action_raw": r.action_byte & 0x07,
        "pretimeout_interrupt": r.pretimeout_irq().map(|i| i.cli_name()),
        "pretimeout_interrupt_raw": (r.action_byte >> 4) & 0x07,
        "pretimeout_s": r.pretimeout_secs,
        "expiration_flags": expired_uses(r.expiration_flags)
            .iter().map(|u| u.cli_name()).collect::<Vec<_>>(),
        "expiration_flags_raw": r.expiration_flags.bits(),
        "initial_countdown_s": secs_f64(r.initial_countdown),
        "present_countdown_s": r.present_countdown.map(secs_f64),
        "strictly_valid": r.decoded.is_ok(),
    })
}

/// One-line summary of a Set request.
pub fn set_summary(s: &SetWatchdog) -> String {
    let mut out = format!(
        "{}, {} after {} sec",
        s.timer_use.ipmitool_name(),
        s.action.ipmitool_name(),
        secs(s.initial_countdown)
    );
    if s.pretimeout_secs > 0 || s.pretimeout_irq != ipmi_watchdog::PreTimeoutInterrupt::None {
        let _ = write!(
            out,
            ", pre-timeout {} {} s before",
            s.pretimeout_irq.ipmitool_name(),
            s.pretimeout_secs
        );
    }
    if s.dont_log {
        out.push_str(", no SEL logging");
    }
    if !s.clear_flags.is_empty() {
        let names: Vec<&str> = expired_uses(s.clear_flags)
            .iter()
            .map(|u| u.cli_name())
            .collect();
        let _ = write!(out, ", clearing expiration flags {}", names.join(","));
    }
    out
}

/// JSON for a Set request.
pub fn set_json(s: &SetWatchdog) -> Value {
    json!({
        "timer_use": s.timer_use.cli_name(),
        "dont_log": s.dont_log,
        "dont_stop": s.dont_stop,
        "action": s.action.cli_name(),
        "pretimeout_interrupt": s.pretimeout_irq.cli_name(),
        "pretimeout_s": s.pretimeout_secs,
        "clear_flags": expired_uses(s.clear_flags).iter().map(|u| u.cli_name()).collect::<Vec<_>>(),
        "initial_countdown_s": secs_f64(s.initial_countdown),
        "request": s.encode().iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::GetWatchdogTimer;
    use ipmi_rs::connection::IpmiCommand;

    #[test]
    fn text_matches_ipmitool_layout() {
        // QEMU after `watchdog -T 10` (real-kernel-lab.md §3), 8.5 s left, SMS/OS expired.
        let r = GetWatchdogTimer::parse_success_response(&[0x44, 0x01, 0, 0x10, 0x64, 0, 0x55, 0])
            .unwrap();
        let t = reading_text(&r);
        assert_eq!(
            t,
            "Watchdog Timer Use:     SMS/OS (0x44)\n\
             Watchdog Timer Is:      Started/Running\n\
             Watchdog Timer Logging: On\n\
             Watchdog Timer Action:  Hard Reset (0x01)\n\
             Pre-timeout interrupt:  None\n\
             Pre-timeout interval:   0 seconds\n\
             Timer Expiration Flags: (0x10)\n\
             \x20                       * SMS/OS\n\
             Initial Countdown:      10.0 sec\n\
             Present Countdown:      8.5 sec\n"
        );
        let j = reading_json(&r);
        assert_eq!(j["timer_use"], "sms-os");
        assert_eq!(j["running"], true);
        assert_eq!(j["present_countdown_s"], 8.5);
        assert_eq!(j["expiration_flags"][0], "sms-os");
    }

    #[test]
    fn reserved_values_print_as_reserved() {
        let r = GetWatchdogTimer::parse_success_response(&[0, 0, 0, 0, 0, 0]).unwrap();
        let t = reading_text(&r);
        assert!(
            t.starts_with("Watchdog Timer Use:     Reserved (0x00)\n"),
            "{t}"
        );
        assert!(t.contains("Timer Expiration Flags: None (0x00)"), "{t}");
        assert!(t.contains("not reported"), "{t}");
        assert_eq!(reading_json(&r)["timer_use"], Value::Null);
    }
}
