//! The daemon's resident set (issue #14: below `bmc-watchdog -d`'s).
//!
//! `bmcwd` is one binary for the simulator, the scenarios, the C harness and
//! the CLI. Start-up (argument parsing, the configuration file, the timing
//! check) runs code spread over the whole text, and the kernel maps file
//! pages in blocks around each fault, so almost all of it stays resident
//! although the petting loop needs a fraction. [`release_startup_pages`]
//! unmaps the executable's read-only pages once start-up is done; the loop
//! faults back only the blocks it runs.

use std::path::Path;

/// One mapping of `/proc/self/smaps`: its range and whether dropping its
/// pages loses nothing.
#[derive(Debug, PartialEq, Eq)]
struct Mapping {
    start: usize,
    end: usize,
    /// Not writable, and no private (copy-on-write) copy of any page: every
    /// page is the file's, read back on the next access. Relocated
    /// read-only data (`.data.rel.ro` after `mprotect`) has private copies
    /// and must not be dropped.
    file_only: bool,
}

/// The mappings of `exe` in `smaps` (the text of `/proc/self/smaps`) that
/// are safe to drop. Lines it does not understand are skipped.
fn droppable(smaps: &str, exe: &Path) -> Vec<(usize, usize)> {
    let exe = exe.as_os_str().to_string_lossy();
    let mut found: Vec<Mapping> = Vec::new();
    let mut current: Option<Mapping> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else {
            continue;
        };
        if let Some((lo, hi)) = first.split_once('-') {
            // A mapping's header: range, perms, offset, device, inode, path.
            let (Ok(start), Ok(end)) =
                (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            else {
                continue;
            };
            found.extend(current.take());
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).map(|_| {
                // The path is the rest of the line (it may hold spaces).
                let mut rest = line;
                for _ in 0..5 {
                    rest = rest.trim_start();
                    rest = rest.find(char::is_whitespace).map_or("", |i| &rest[i..]);
                }
                rest.trim()
            });
            if path == Some(&*exe) && perms.starts_with('r') && !perms.contains('w') {
                current = Some(Mapping {
                    start,
                    end,
                    file_only: false,
                });
            }
        } else if let (Some(m), "Anonymous:", Some("0")) = (&mut current, first, fields.next()) {
            m.file_only = true;
        }
    }
    found.extend(current);
    found
        .into_iter()
        .filter(|m| m.file_only && m.start < m.end)
        .map(|m| (m.start, m.end))
        .collect()
}

/// Drops this process's page-table entries for the executable's read-only,
/// unmodified mappings (code, constants): the pages stay in the page cache
/// and fault back in on their next use. Returns the bytes of address space
/// released. Safe for the program: only mappings whose every page is the
/// file's are touched, so nothing is lost.
pub fn release_startup_pages() -> std::io::Result<usize> {
    let exe = std::fs::read_link("/proc/self/exe")?;
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let mut released = 0;
    for (start, end) in droppable(&smaps, &exe) {
        // SAFETY: the range is a whole mapping of our own executable that is
        // not writable and has no private copies (checked above); dropping
        // its pages makes the next access read them from the file again,
        // with the same contents. No Rust object owns this memory.
        let rc =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        released += end - start;
    }
    Ok(released)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
5555550000-5555560000 r--p 00000000 00:1a 42                         /usr/bin/bm cwd
Rss:                  64 kB
Anonymous:             0 kB
5555560000-5555580000 r-xp 00010000 00:1a 42                         /usr/bin/bm cwd
Rss:                 128 kB
Anonymous:             0 kB
5555580000-5555590000 r--p 00030000 00:1a 42                         /usr/bin/bm cwd
Rss:                  64 kB
Anonymous:            64 kB
5555590000-55555a0000 rw-p 00040000 00:1a 42                         /usr/bin/bm cwd
Anonymous:             0 kB
55555a0000-55555b0000 r-xp 00000000 00:1a 43                         /usr/lib/other
Anonymous:             0 kB
55555b0000-55555c0000 rw-p 00000000 00:00 0                          [heap]
Anonymous:             8 kB
";

    #[test]
    fn drops_only_unmodified_read_only_mappings_of_the_executable() {
        let d = droppable(SMAPS, Path::new("/usr/bin/bm cwd"));
        assert_eq!(
            d,
            vec![
                (0x55_5555_0000, 0x55_5556_0000),
                (0x55_5556_0000, 0x55_5558_0000)
            ]
        );
        assert!(droppable(SMAPS, Path::new("/usr/bin/bm")).is_empty());
        assert!(droppable("garbage\n\n-\nzz-yy r-xp\n", Path::new("/x")).is_empty());
    }

    #[test]
    fn released_pages_come_back() {
        let released = release_startup_pages().expect("madvise on our own text");
        assert!(released > 0, "found no mapping of the test binary to drop");
        // The code runs on, faulting its pages back from the file.
        assert_eq!(droppable(SMAPS, Path::new("/usr/lib/other")).len(), 1);
    }
}
