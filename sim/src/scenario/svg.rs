//! A timeline picture of a [`Trace`] as a standalone SVG document (hand-written,
//! no dependencies): the BT state as a coloured band, faults as shaded
//! intervals, completions as marks (green: BMC answered cc 0; amber: BMC
//! answered an error code; red: made up by the host), kernel log lines as
//! ticks, and a time axis. Every element carries a `<title>` tooltip.
//!
//! Long runs stay small: intervals and marks that fall into the same pixel
//! column are merged, so a day-long trace is a few hundred kilobytes at most.

use core::fmt::Write as _;

use ipmi_bt_sm::State;

use crate::bmc::fault::Fault;
use crate::scenario::trace::{EventKind, Trace};

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 110.0;
const RIGHT: f64 = 20.0;
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;

const GROUPS: usize = 8;
const GROUP_COLORS: [&str; GROUPS] = [
    "#e8e8e8", "#9ecae1", "#6baed6", "#2171b5", "#fd8d3c", "#fdd0a2", "#9e9ac8", "#de2d26",
];
/// Completion markers by severity: cc 0, an error from the BMC, an error
/// the host made up. Distinct from every state colour, so the legend is
/// unambiguous.
const COMPLETION_COLORS: [&str; 3] = ["#31a354", "#e7298a", "#252525"];
/// Legend labels of [`COMPLETION_COLORS`].
const COMPLETION_NAMES: [&str; 3] = ["cc 0", "BMC error", "host-made error"];

const GROUP_NAMES: [&str; GROUPS] = [
    "IDLE",
    "XACTION",
    "write",
    "read",
    "RESET",
    "RESTART",
    "CAPS",
    "LONG_BUSY/HOSED",
];

/// Colour group of a state in the band.
fn group(s: State) -> usize {
    match s {
        State::Idle | State::PrintMe => 0,
        State::XactionStart => 1,
        State::WriteBytes | State::WriteConsume | State::WriteEnd => 2,
        State::ReadWait | State::B2hWait | State::ClearB2h | State::ReadBytes | State::ReadEnd => 3,
        State::Reset1 | State::Reset2 | State::Reset3 => 4,
        State::Restart => 5,
        State::CapabilitiesBegin | State::CapabilitiesEnd => 6,
        State::LongBusy | State::Hosed => 7,
    }
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

/// A tick step from a list of round times, giving at most ~12 ticks over `span` seconds.
fn tick_step(span: f64) -> f64 {
    const STEPS: [f64; 27] = [
        1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 0.001, 0.002, 0.005, 0.01, 0.02,
        0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0,
    ];
    const LONG: [f64; 9] = [
        600.0, 900.0, 1800.0, 3600.0, 7200.0, 10_800.0, 21_600.0, 43_200.0, 86_400.0,
    ];
    let raw = span / 12.0;
    STEPS
        .iter()
        .chain(LONG.iter())
        .copied()
        .find(|&st| st >= raw)
        .unwrap_or_else(|| (raw / 86_400.0).ceil() * 86_400.0)
}

fn fmt_secs(t: f64, step: f64) -> String {
    if step >= 86_400.0 {
        format!("{:.0}d", t / 86_400.0)
    } else if step >= 3600.0 {
        format!("{:.0}h", t / 3600.0)
    } else if step >= 60.0 {
        format!("{:.0}min", t / 60.0)
    } else if step >= 1.0 {
        format!("{t:.0}s")
    } else if step >= 0.001 {
        format!("{:.0}ms", t * 1000.0)
    } else {
        format!("{:.0}us", t * 1e6)
    }
}

/// Render `trace` as an SVG document.
pub fn render(trace: &Trace) -> String {
    let end_s = trace.end.since_start().as_secs_f64().max(1e-6);
    let x = |t_s: f64| LEFT + (t_s / end_s).clamp(0.0, 1.0) * PLOT_W;
    // Rows.
    let title_y = 22.0;
    let state_y = 50.0;
    let band_h = 26.0;
    let fault_y = state_y + band_h + 14.0;
    let comp_y = fault_y + band_h + 14.0;
    let log_y = comp_y + band_h + 14.0;
    // `[daemon]` runs: a daemon row (reloads, errors) and the countdown.
    let daemon_y = log_y + band_h + 14.0;
    let count_h = 40.0;
    let count_y = daemon_y + band_h + 14.0;
    let axis_y = if trace.daemon.is_some() {
        count_y + count_h + 18.0 + 10.0
    } else {
        log_y + 18.0 + 10.0
    };
    let legend_y = axis_y + 38.0;
    let height = legend_y + 30.0;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="monospace" font-size="11">"#
    );
    let _ = writeln!(
        s,
        r#"<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="{title_y}" font-size="13">{} — {}{}</text>"#,
        esc(&trace.name),
        esc(&trace.driver),
        if trace.truncated.is_some() {
            " — STOPPED EARLY (a run limit was hit)"
        } else {
            ""
        }
    );
    for (y, label) in [
        (state_y, "BT state"),
        (fault_y, "faults"),
        (comp_y, "completions"),
        (log_y, "kernel log"),
    ] {
        let _ = writeln!(
            s,
            r#"<text x="8" y="{:.1}">{label}</text>"#,
            y + band_h / 2.0 + 4.0
        );
    }

    // State band: per pixel column, the state (other than IDLE, if any) that
    // took most of the column's time; runs of equal columns become one rect.
    let cols = PLOT_W.ceil() as usize;
    let mut acc: Vec<[f64; GROUPS]> = vec![[0.0; GROUPS]; cols];
    let mut add = |st: State, t0: f64, t1: f64| {
        if t1 <= t0 {
            return;
        }
        let g = group(st);
        let c0 = ((x(t0) - LEFT).floor().max(0.0) as usize).min(cols - 1);
        let c1 = ((x(t1) - LEFT).floor().max(0.0) as usize).min(cols - 1);
        for (c, slot) in acc.iter_mut().enumerate().take(c1 + 1).skip(c0) {
            let lo = ((c as f64) / PLOT_W * end_s).max(t0);
            let hi = (((c + 1) as f64) / PLOT_W * end_s).min(t1);
            if hi > lo {
                slot[g] += hi - lo;
            }
        }
    };
    let mut cur = State::Idle;
    let mut cur_t = 0.0f64;
    for e in &trace.events {
        if let EventKind::State { to, .. } = e.kind {
            let t = e.t.since_start().as_secs_f64();
            add(cur, cur_t, t);
            cur = to;
            cur_t = t;
        }
    }
    add(cur, cur_t, end_s);
    let pick = |a: &[f64; GROUPS]| -> Option<usize> {
        let busy = (1..GROUPS)
            .filter(|&g| a[g] > 0.0)
            .max_by(|&p, &q| a[p].total_cmp(&a[q]));
        busy.or(if a[0] > 0.0 { Some(0) } else { None })
    };
    let mut run: Option<(usize, usize)> = None; // (group, first column)
    for c in 0..=cols {
        let g = acc.get(c).and_then(pick);
        match run {
            Some((rg, _)) if Some(rg) == g => {}
            _ => {
                if let Some((rg, c0)) = run.take() {
                    let _ = writeln!(
                        s,
                        r#"<rect x="{:.1}" y="{state_y}" width="{}" height="{band_h}" fill="{}"><title>{} {:.6}s – {:.6}s</title></rect>"#,
                        LEFT + c0 as f64,
                        c - c0,
                        GROUP_COLORS[rg],
                        GROUP_NAMES[rg],
                        c0 as f64 / PLOT_W * end_s,
                        c as f64 / PLOT_W * end_s
                    );
                }
                run = g.map(|g| (g, c));
            }
        }
    }

    // Fault intervals.
    let mut open: Vec<(Fault, f64)> = Vec::new();
    let mut fault_rects: Vec<(Fault, f64, f64)> = Vec::new();
    for e in &trace.events {
        let t = e.t.since_start().as_secs_f64();
        match &e.kind {
            EventKind::FaultOn(d) => open.push((*d, t)),
            EventKind::FaultOff(k) => {
                if let Some(i) = open.iter().position(|(d, _)| d.kind() == *k) {
                    let (d, t0) = open.remove(i);
                    fault_rects.push((d, t0, t));
                }
            }
            _ => {}
        }
    }
    for (d, t0) in open {
        fault_rects.push((d, t0, end_s));
    }
    for (d, t0, t1) in &fault_rects {
        let x0 = x(*t0);
        let w = (x(*t1) - x0).max(1.5);
        let _ = writeln!(
            s,
            r##"<rect x="{x0:.1}" y="{fault_y}" width="{w:.1}" height="{band_h}" fill="#de2d26" fill-opacity="0.25" stroke="#de2d26"><title>fault {} {t0:.6}s – {t1:.6}s</title></rect>"##,
            esc(&d.to_string())
        );
        let _ = writeln!(
            s,
            r##"<rect x="{x0:.1}" y="{state_y}" width="{w:.1}" height="{}" fill="#de2d26" fill-opacity="0.06"/>"##,
            log_y + band_h - state_y
        );
        if w > 40.0 {
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                x0 + 3.0,
                fault_y + band_h / 2.0 + 4.0,
                esc(&d.to_string())
            );
        }
    }

    // Completions: one mark per pixel column, the worst outcome wins.
    let mut marks: Vec<(i64, u8, String)> = Vec::new();
    for c in &trace.completions {
        let t = c.completed.since_start().as_secs_f64();
        let col = x(t).round() as i64;
        let sev = if c.synthesized {
            2
        } else if c.cc.is_ok() {
            0
        } else {
            1
        };
        let tip = format!(
            "#{} {} cc {} after {:.6}s",
            c.id,
            crate::scenario::trace::command_name(c.netfn(), c.cmd()),
            c.cc,
            c.latency().as_secs_f64()
        );
        match marks.last_mut() {
            Some(m) if m.0 == col => {
                if sev > m.1 {
                    m.1 = sev;
                    m.2 = tip;
                }
            }
            _ => marks.push((col, sev, tip)),
        }
    }
    for (col, sev, tip) in &marks {
        let color = COMPLETION_COLORS
            .get(usize::from(*sev))
            .copied()
            .unwrap_or(COMPLETION_COLORS[2]);
        let _ = writeln!(
            s,
            r#"<circle cx="{col}" cy="{:.1}" r="4" fill="{color}"><title>{}</title></circle>"#,
            comp_y + band_h / 2.0,
            esc(tip)
        );
    }

    // Log ticks, one per pixel column; its tooltip lists the first lines
    // logged there (a timeout head and its `1 retries left` share a moment)
    // and counts the rest, so long runs stay small.
    const TIP_LINES: usize = 4;
    let mut ticks: Vec<(i64, String, usize)> = Vec::new();
    for l in &trace.log {
        let col = x(l.t.since_start().as_secs_f64()).round() as i64;
        match ticks.last_mut() {
            Some((c, text, n)) if *c == col => {
                if *n < TIP_LINES {
                    text.push('\n');
                    text.push_str(&esc(&l.text));
                }
                *n += 1;
            }
            _ => ticks.push((col, esc(&l.text), 1)),
        }
    }
    for (col, text, n) in &ticks {
        let more = match n.saturating_sub(TIP_LINES) {
            0 => String::new(),
            k => format!("\n… {k} more"),
        };
        let _ = writeln!(
            s,
            r##"<line x1="{col}" y1="{log_y}" x2="{col}" y2="{:.1}" stroke="#555"><title>{text}{more}</title></line>"##,
            log_y + band_h,
        );
    }

    // Axis.
    let _ = writeln!(
        s,
        r#"<line x1="{LEFT}" y1="{axis_y}" x2="{:.1}" y2="{axis_y}" stroke="black"/>"#,
        LEFT + PLOT_W
    );
    let step = tick_step(end_s);
    let mut i = 0u32;
    loop {
        let t = f64::from(i) * step;
        if t > end_s + 1e-9 || i > 100 {
            break;
        }
        let xt = x(t);
        let _ = writeln!(
            s,
            r#"<line x1="{xt:.1}" y1="{axis_y}" x2="{xt:.1}" y2="{:.1}" stroke="black"/>"#,
            axis_y + 5.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{xt:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            axis_y + 17.0,
            fmt_secs(t, step)
        );
        i += 1;
    }

    if let Some(d) = &trace.daemon {
        draw_daemon(&mut s, trace, d, &x, daemon_y, band_h, count_y, count_h);
    }

    // Legend.
    let mut lx = LEFT;
    let states = GROUP_NAMES
        .iter()
        .zip(GROUP_COLORS)
        .map(|(l, c)| (*l, c, false));
    let marks = COMPLETION_NAMES
        .iter()
        .zip(COMPLETION_COLORS)
        .map(|(l, c)| (*l, c, true));
    for (label, color, marker) in states.chain(marks) {
        if marker {
            // Completions are dots on their row: a dot in the legend too.
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="5" fill="{color}"/>"#,
                lx + 6.0,
                legend_y + 6.0
            );
        } else {
            let _ = writeln!(
                s,
                r#"<rect x="{lx:.1}" y="{legend_y}" width="12" height="12" fill="{color}"/>"#
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{label}</text>"#,
            lx + 16.0,
            legend_y + 10.0
        );
        lx += 16.0 + 6.6 * label.len() as f64 + 14.0;
    }
    s.push_str("</svg>\n");
    s
}

/// The daemon row (a green tick per countdown reload, a red one per daemon
/// warning or error, the daemon's lines as tooltips) and the countdown the
/// BMC is running (a sawtooth from the timeout down to zero; a red bar where
/// it expired and reset the host).
#[allow(clippy::too_many_arguments)]
fn draw_daemon(
    s: &mut String,
    trace: &Trace,
    d: &super::trace::DaemonRecord,
    x: &dyn Fn(f64) -> f64,
    y: f64,
    h: f64,
    cy: f64,
    ch: f64,
) {
    for (yy, label) in [
        (y + h / 2.0 + 4.0, d.kind.as_str()),
        (cy + ch / 2.0 + 4.0, "countdown"),
    ] {
        let _ = writeln!(s, r#"<text x="8" y="{yy:.1}">{}</text>"#, esc(label));
    }
    for t in &d.reloads {
        let xt = x(t.since_start().as_secs_f64());
        let _ = writeln!(
            s,
            r##"<line x1="{xt:.1}" y1="{y:.1}" x2="{xt:.1}" y2="{:.1}" stroke="#31a354"><title>countdown reloaded at {:.3}s</title></line>"##,
            y + h,
            t.since_start().as_secs_f64()
        );
    }
    for e in &trace.events {
        if let EventKind::Daemon(m) = &e.kind {
            let bad = m.contains("warning:") || m.contains("error:") || m.contains("Error");
            let color = if bad { "#e31a1c" } else { "#636363" };
            let xt = x(e.t.since_start().as_secs_f64());
            let _ = writeln!(
                s,
                r#"<line x1="{xt:.1}" y1="{:.1}" x2="{xt:.1}" y2="{:.1}" stroke="{color}" stroke-width="2"><title>{:.3}s {}</title></line>"#,
                y + h * 0.25,
                y + h * 0.75,
                e.t.since_start().as_secs_f64(),
                esc(m)
            );
        }
    }
    // Countdown: from each reload, timeout → 0 linearly until the next one.
    let timeout = d.timeout.as_secs_f64().max(1e-9);
    let end = trace.end.since_start().as_secs_f64();
    let yv = |rem: f64| cy + ch - (rem / timeout).clamp(0.0, 1.0) * ch;
    let mut pts = String::new();
    let mut prev: Option<f64> = None;
    let starts: Vec<f64> = d
        .reloads
        .iter()
        .map(|t| t.since_start().as_secs_f64())
        .collect();
    for (i, &t0) in starts.iter().enumerate() {
        if let Some(p) = prev {
            let rem = timeout - (t0 - p);
            let _ = write!(pts, "{:.1},{:.1} ", x(t0), yv(rem));
        }
        let _ = write!(pts, "{:.1},{:.1} ", x(t0), yv(timeout));
        let next = starts.get(i + 1).copied().unwrap_or(end);
        let zero_at = t0 + timeout;
        if zero_at < next {
            let _ = write!(pts, "{:.1},{:.1} ", x(zero_at), yv(0.0));
        }
        prev = Some(t0);
    }
    if let Some(p) = prev {
        let _ = write!(pts, "{:.1},{:.1}", x(end), yv(timeout - (end - p)));
    }
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{cy:.1}" width="{PLOT_W}" height="{ch:.1}" fill="none" stroke="#bdbdbd"/>"##
    );
    let _ = writeln!(
        s,
        r##"<polyline points="{}" fill="none" stroke="#3182bd"><title>BMC watchdog countdown ({:.1} s)</title></polyline>"##,
        pts.trim_end(),
        timeout
    );
    if let Some(r) = d.host_reset {
        let xr = x(r.since_start().as_secs_f64());
        let _ = writeln!(
            s,
            r##"<rect x="{:.1}" y="{y:.1}" width="4" height="{:.1}" fill="#e31a1c"><title>HOST RESET at {:.3}s: the BMC watchdog expired</title></rect>"##,
            xr - 2.0,
            cy + ch - y,
            r.since_start().as_secs_f64()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legend_colours_are_distinct() {
        let mut all: Vec<&str> = GROUP_COLORS
            .iter()
            .chain(&COMPLETION_COLORS)
            .copied()
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), GROUPS + COMPLETION_COLORS.len());
    }

    #[test]
    fn ticks_are_round_times() {
        assert_eq!(tick_step(10.0), 1.0);
        assert_eq!(tick_step(40.0), 5.0);
        assert_eq!(tick_step(87_000.0), 10_800.0);
        assert_eq!(tick_step(0.05), 0.005);
        assert_eq!(fmt_secs(7200.0, 3600.0), "2h");
        assert_eq!(fmt_secs(0.5, 0.1), "500ms");
    }

    #[test]
    fn draws_states_faults_completions_log_and_axis() {
        let sc = crate::scenario::Scenario::from_toml_str(
            "name = \"p\"\nstop = \"40s\"\n[bmc]\nlatency = \"10ms\"\n[[request]]\nat = \"1s\"\nnetfn = 0x06\ncmd = 0x01\n[[fault]]\nkind = \"silent\"\nat = \"500ms\"\nduration = \"20s\"\n",
        )
        .unwrap();
        let svg = render(&crate::scenario::runner::run(&sc));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(
            svg.contains("<title>fault silent 0.500000s – 20.500000s</title>"),
            "{svg}"
        );
        assert!(
            svg.contains(&format!("fill=\"{}\"><title>RESET", GROUP_COLORS[4])),
            "{svg}"
        );
        assert!(
            svg.contains("<title>#1 Get Device ID cc 0x00 (Command Completed Normally)"),
            "{svg}"
        );
        assert!(
            svg.contains("IPMI BT: timeout in RD_WAIT [ ] \n1 retries left</title></line>"),
            "{svg}"
        );
        assert!(
            svg.contains(">0s</text>") && svg.contains(">40s</text>"),
            "{svg}"
        );
    }

    #[test]
    fn daemon_runs_draw_pets_errors_the_countdown_and_the_reset() {
        let sc = crate::scenario::Scenario::from_toml_str(
            "name = \"d\"\nstop = \"60s\"\n[daemon]\nkind = \"bmc-watchdog\"\ntimeout = \"30s\"\ninterval = \"15s\"\n[[fault]]\nkind = \"silent\"\nat = \"500ms\"\nduration = \"20s\"\n",
        )
        .unwrap();
        let svg = render(&crate::scenario::runner::run(&sc));
        assert!(svg.contains(">bmc-watchdog</text>"), "{svg}");
        assert!(svg.contains(">countdown</text>"), "{svg}");
        assert!(svg.contains("<title>countdown reloaded at"), "{svg}");
        assert!(svg.contains("data not available</title>"), "{svg}");
        assert!(svg.contains("<title>HOST RESET at 30.0"), "{svg}");
        assert!(svg.contains("<polyline points="), "{svg}");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("a<b>&\"c\""), "a&lt;b&gt;&amp;&quot;c&quot;");
    }
}
