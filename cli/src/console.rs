//! The binary's stdout/stderr writers. Unlike `print!`/`eprint!`, a closed
//! pipe (`bmcwd get | head -1`, a journald pipe gone away) is ignored instead
//! of panicking.

use std::io::Write;

/// Writes to stdout; a closed pipe (`bmcwd get | head -1`) is not an error
/// worth a panic, so write failures are ignored.
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

/// Pretty-printed JSON and a newline on stdout.
pub fn out_json(v: &serde_json::Value) {
    out(&format!(
        "{}\n",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into())
    ));
}

/// Writes raw text to stderr. Unlike `eprintln!`, a closed stderr (e.g. a
/// journald pipe gone away) is ignored instead of panicking.
pub fn err_raw(text: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(text.as_bytes());
    let _ = e.flush();
}

/// Note on stderr (not part of the machine-readable output).
pub fn note(text: &str) {
    err_raw(&format!("bmcwd: {text}\n"));
}
