//! Property tests over untrusted input: bytes from a BMC (response data,
//! completion codes, a socket peer's stream), a state file's contents, and
//! what a user types as a duration. None of it may panic, and what is
//! accepted must mean what it says.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use bmcwd::output;
use bmcwd::statefile;
use bmcwd::transport::{Request, Response, Transport, TransportError};
use bmcwd::GetWatchdogTimer;
use bmcwd::VmSocketTransport;
use bmcwd::{Client, ClientError};
use bmcwd::{Deciseconds, DurationError};
use ipmi_bt_sm::CompletionCode;
use ipmi_rs::connection::IpmiCommand;
use ipmi_watchdog::{SetWatchdog, TimerUse};
use proptest::prelude::*;

/// A BMC that answers every request with the same completion code and data.
struct Canned {
    cc: u8,
    data: Vec<u8>,
    sent: Vec<u8>,
}

impl Transport for Canned {
    fn send(&mut self, req: &Request, _timeout: Duration) -> Result<Response, TransportError> {
        self.sent.push(req.cmd);
        Ok(Response {
            netfn: req.netfn | 1,
            cmd: req.cmd,
            cc: CompletionCode(self.cc),
            data: self.data.clone(),
        })
    }

    fn describe(&self) -> String {
        "canned BMC".into()
    }
}

fn any_set() -> impl Strategy<Value = SetWatchdog> {
    (
        1u8..=5,
        any::<bool>(),
        any::<bool>(),
        0u8..=3,
        0u8..=3,
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
    )
        .prop_filter_map("valid Set", |(u, log, stop, act, irq, pre, flags, cd)| {
            let [c0, c1] = cd.to_le_bytes();
            let b0 = u | (u8::from(log) << 7) | (u8::from(stop) << 6);
            SetWatchdog::decode(&[b0, act | (irq << 4), pre, flags & 0x3E, c0, c1]).ok()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Get's decoder takes exactly 6 or 8 bytes; every field it reports is the
    /// raw byte it came from, and both renderings hold whatever the BMC sent.
    #[test]
    fn get_response_decodes_and_renders_any_bytes(
        data in proptest::collection::vec(any::<u8>(), 0..12),
    ) {
        match GetWatchdogTimer::parse_success_response(&data) {
            Ok(r) => {
                prop_assert!(data.len() == 6 || data.len() == 8);
                prop_assert_eq!(r.use_byte, data[0]);
                prop_assert_eq!(r.action_byte, data[1]);
                prop_assert_eq!(r.pretimeout_secs, data[2]);
                prop_assert_eq!(r.expiration_flags.bits(), data[3]);
                prop_assert_eq!(r.initial_countdown.ticks(), u16::from_le_bytes([data[4], data[5]]));
                prop_assert_eq!(
                    r.present_countdown.map(|c| c.ticks()),
                    data.get(6..8).map(|p| u16::from_le_bytes([p[0], p[1]]))
                );
                let text = output::reading_text(&r);
                let expired = output::expired_uses(r.expiration_flags).len();
                prop_assert_eq!(text.lines().count(), 9 + expired, "{}", text);
                let use_raw = format!("(0x{:02x})", data[0]);
                prop_assert!(text.contains(&use_raw), "{}", text);
                let json = output::reading_json(&r);
                let back: serde_json::Value =
                    serde_json::from_str(&serde_json::to_string(&json).unwrap()).unwrap();
                prop_assert_eq!(&back["timer_use_raw"], &serde_json::json!(data[0] & 7));
                prop_assert_eq!(&back["expiration_flags_raw"], &serde_json::json!(data[3]));
                prop_assert_eq!(&back["pretimeout_s"], &serde_json::json!(data[2]));
                prop_assert_eq!(back["running"].as_bool(), Some(data[0] & 0x40 != 0));
            }
            Err(e) => {
                prop_assert!(data.len() != 6 && data.len() != 8, "{} for {:02x?}", e, data);
                prop_assert!(e.0.contains("Get Watchdog Timer"), "{}", e);
            }
        }
    }

    /// Whatever a BMC answers, the client returns a value or a typed error —
    /// a non-zero code is a Completion error naming it, CC 0 is never one.
    #[test]
    fn client_survives_any_answer(cc in any::<u8>(), data in proptest::collection::vec(any::<u8>(), 0..40)) {
        let mut c = Client::new(Canned { cc, data: data.clone(), sent: vec![] }, Duration::from_secs(1));
        let got = c.get();
        if cc != 0 {
            let e = got.unwrap_err();
            prop_assert_eq!(e.completion_code(), Some(CompletionCode(cc)));
            let msg = e.to_string();
            prop_assert!(msg.starts_with("Get Watchdog Timer failed: 0x"), "{}", msg);
            let code = format!("0x{:02X} (", cc);
            prop_assert!(msg.contains(&code), "{}", msg);
        } else {
            match got {
                Ok(_) => prop_assert!(data.len() == 6 || data.len() == 8),
                Err(ClientError::Malformed { .. }) => prop_assert!(data.len() != 6 && data.len() != 8),
                Err(e) => prop_assert!(false, "unexpected {}", e),
            }
        }
        // A pet re-sends the Set on 0x80 (Reset) and 0xD5 (reload with
        // don't-stop), like Linux's ipmi_watchdog; a BMC answering the same
        // error to the Set too ends it there. Other codes end it at once.
        let set = SetWatchdog::new(TimerUse::SmsOs, ipmi_watchdog::TimerAction::HardReset,
            ipmi_watchdog::Countdown::from_ticks(100));
        let mut c = Client::new(Canned { cc, data, sent: vec![] }, Duration::from_secs(1));
        let r = c.pet(Some(&set));
        prop_assert_eq!(r.is_ok(), cc == 0);
        let sent = c.into_inner().sent;
        let expect: &[u8] = match cc {
            0x00 => &[0x22],
            0x80 | 0xD5 => &[0x22, 0x24],
            _ => &[0x22],
        };
        prop_assert_eq!(sent, expect.to_vec());
    }

    /// The duration parser never panics; what it accepts prints back to the
    /// same value; a leading minus is always "negative".
    #[test]
    fn durations_parse_any_string(s in "\\PC{0,12}") {
        if let Ok(d) = s.parse::<Deciseconds>() {
            prop_assert_eq!(d.to_string().parse::<Deciseconds>(), Ok(d));
        }
        if s.trim().starts_with('-') {
            prop_assert!(matches!(s.parse::<Deciseconds>(), Err(DurationError::Negative(_))));
        }
    }

    /// Every number of deciseconds, written in any unit that can hold it
    /// exactly, parses to itself.
    #[test]
    fn durations_parse_exactly(ds in any::<u32>()) {
        let ds = u64::from(ds);
        let p = |s: String| s.parse::<Deciseconds>().map(Deciseconds::ds);
        prop_assert_eq!(p(format!("{}.{}s", ds / 10, ds % 10)), Ok(ds));
        prop_assert_eq!(p(format!("{}ms", ds * 100)), Ok(ds));
        prop_assert_eq!(p(format!("{}", ds * 10)), Ok(ds * 100));
        if ds % 600 == 0 {
            prop_assert_eq!(p(format!("{}m", ds / 600)), Ok(ds));
        }
        if ds % 100 != 0 {
            let ms = ds * 100 + 50;
            let fine = p(format!("{}ms", ms));
            prop_assert!(matches!(fine, Err(DurationError::TooFine(_))));
        }
    }

    /// A state file with any contents loads as the Set it holds or as a
    /// "corrupt" error — never a panic, never a Set the file did not encode.
    #[test]
    fn state_file_with_any_contents(contents in proptest::collection::vec(any::<u8>(), 0..80)) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.last-set");
        std::fs::write(&p, &contents).unwrap();
        match statefile::load(&p) {
            Ok(set) => {
                // It must be the six hex bytes on the first data line.
                let text = String::from_utf8(contents).unwrap();
                let line = text.lines().map(str::trim)
                    .find(|l| !l.is_empty() && !l.starts_with('#')).unwrap();
                let bytes: Vec<u8> = line.split_whitespace()
                    .map(|h| u8::from_str_radix(h, 16).unwrap()).collect();
                prop_assert_eq!(set.encode().to_vec(), bytes);
            }
            Err(statefile::LoadError::Corrupt(path, _)) => prop_assert_eq!(path, p),
            Err(e) => prop_assert!(false, "unexpected {}", e),
        }
    }

    /// What `save` writes, `load` reads back, for every valid Set.
    #[test]
    fn state_file_round_trips(set in any_set()) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.last-set");
        statefile::save(&p, &set).unwrap();
        prop_assert_eq!(statefile::load(&p).unwrap(), set);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A socket peer sending any bytes, then hanging up, gets a typed error
    /// (or, by chance, a matching response) from the VM-protocol client.
    #[test]
    fn vm_client_survives_any_peer_stream(stream in proptest::collection::vec(any::<u8>(), 0..200)) {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut t = VmSocketTransport::from_stream(a, Path::new("peer")).unwrap();
        b.write_all(&stream).unwrap();
        drop(b);
        let req = Request { netfn: 0x06, cmd: 0x25, data: vec![] };
        match t.send(&req, Duration::from_secs(5)) {
            Ok(r) => {
                prop_assert_eq!(r.cmd, 0x25);
                prop_assert_eq!(r.netfn, 0x07);
            }
            Err(TransportError::Closed { .. }) | Err(TransportError::Io { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected {}", e),
        }
    }
}
