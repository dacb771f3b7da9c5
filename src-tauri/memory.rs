//! The program's own code let go of once the app has started (Linux).
//!
//! Starting touches a large part of the binary: Tauri, GTK glue, the
//! approver's store, TLS and the event stream, each page mapped with its
//! neighbours by the kernel's fault-around. About 12 of its 28 MiB stayed
//! mapped all day in the tray, though the idle app runs little of it (a
//! timer, a heartbeat on the event stream): the largest part of what the
//! app held beyond an empty Tauri app (docs/performance.md, "Desktop
//! app"). [`RELEASE_AFTER`] after the transport has started,
//! [`release_program_pages`] unmaps the pages of every mapping of the
//! program's file that is not writable and holds nothing but the file's own
//! pages (`MADV_DONTNEED`): code and read-only data. They stay in the
//! kernel's page cache, which can reclaim them when it needs memory; a page
//! used again is mapped back on its first use (a minor fault, no disk
//! read while it is cached). A mapping with private pages (the relocated
//! read-only data, `PT_GNU_RELRO`, written by the loader at start) is left
//! alone: unmapping those would lose what the loader wrote. So are writable
//! data, the heap and the libraries.
//!
//! `MADV_DONTNEED`, not `MADV_PAGEOUT`: the kernel pages a file's cache out
//! only for a caller that owns the file or may write it, which an installed
//! app (owned by root) is not; unmapping needs no such right, and drops
//! nothing from the cache that a click on a notification would read back.

#[cfg(target_os = "linux")]
use std::path::Path;

/// How long after the transport has started (the first screen shown) the
/// pages are let go of: the start's last work (the whole inbox listed, the
/// event stream opened) done.
pub const RELEASE_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// One of the program's read-only mappings as `/proc/self/smaps` is read:
/// its range, and whether it holds private pages (`None` until its
/// `Anonymous` line says).
#[cfg(target_os = "linux")]
type Reading = ((usize, usize), Option<bool>);

/// The address ranges of the mappings in `smaps` (the text of
/// `/proc/self/smaps`) of the file `program` that are not writable and say
/// they hold no private page (`Anonymous: 0 kB`).
#[cfg(target_os = "linux")]
pub fn program_ranges(smaps: &[u8], program: &Path) -> Vec<(usize, usize)> {
    use std::os::unix::ffi::OsStrExt as _;
    let program = program.as_os_str().as_bytes();
    let mut ranges = Vec::new();
    // The mapping being read, if it is one of the program's read-only ones.
    let mut current: Option<Reading> = None;
    let mut finish = |current: &mut Option<Reading>| {
        if let Some((range, Some(false))) = current.take() {
            ranges.push(range);
        }
    };
    for line in smaps.split(|&b| b == b'\n') {
        if let Some(kib) = line.strip_prefix(b"Anonymous:") {
            let private = kib.iter().any(|b| b.is_ascii_digit() && *b != b'0');
            if let Some((_, held)) = current.as_mut() {
                *held = Some(held.unwrap_or(false) || private);
            }
            continue;
        }
        let Some(mapping) = mapping_header(line) else { continue };
        finish(&mut current);
        if !mapping.perms.contains(&b'w') && mapping.path == program {
            current = Some((mapping.range, None));
        }
    }
    finish(&mut current);
    ranges
}

/// A mapping, as its header line in `/proc/self/smaps` says.
#[cfg(target_os = "linux")]
struct Mapping<'a> {
    range: (usize, usize),
    perms: &'a [u8],
    path: &'a [u8],
}

/// A mapping's header line of `/proc/self/smaps` (`start-end perms offset
/// dev inode path`, the path after padding and possibly holding spaces).
#[cfg(target_os = "linux")]
fn mapping_header(line: &[u8]) -> Option<Mapping<'_>> {
    let mut fields = line.splitn(6, |&b| b == b' ');
    let range = fields.next()?;
    let perms = fields.next()?;
    let (_offset, _dev, _inode) = (fields.next()?, fields.next()?, fields.next()?);
    let path = fields.next().unwrap_or_default();
    let path = &path[path.iter().position(|&b| b != b' ').unwrap_or(path.len())..];
    let dash = range.iter().position(|&b| b == b'-')?;
    let hex = |digits: &[u8]| usize::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok();
    let (start, end) = (hex(&range[..dash])?, hex(&range[dash + 1..])?);
    (start < end && perms.len() == 4).then_some(Mapping { range: (start, end), perms, path })
}

/// Unmaps the pages of this program's code and read-only data
/// ([`program_ranges`]); returns how many bytes of mappings were let go
/// of. Nothing elsewhere than on Linux.
///
/// # Errors
/// `/proc/self` could not be read, or the kernel refused a mapping (the
/// others are still let go of).
pub fn release_program_pages() -> Result<usize, String> {
    #[cfg(target_os = "linux")]
    {
        let program = std::fs::read_link("/proc/self/exe").map_err(|e| format!("this program's path: {e}"))?;
        let smaps = std::fs::read("/proc/self/smaps").map_err(|e| format!("this program's mappings: {e}"))?;
        let (mut released, mut refused) = (0, None);
        for (start, end) in program_ranges(&smaps, &program) {
            let len = end - start;
            // SAFETY: a whole mapping of this process's own file that is not
            // writable and, when `smaps` was read, held only the file's own
            // pages (nothing can write to it since: it is not writable, and
            // nothing in this process changes its protection after start).
            // Unmapping such pages changes nothing of what the memory
            // holds: each is mapped back from the file on its next use.
            let done = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
            if done == 0 {
                released += len;
            } else if refused.is_none() {
                refused = Some(std::io::Error::last_os_error());
            }
        }
        match refused {
            None => Ok(released),
            Some(e) => Err(format!("madvise: {e}")),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        Ok(0)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_program_s_read_only_file_mappings_are_found_in_proc_smaps() {
        let smaps = b"\
55d0c0a00000-55d0c0b00000 r--p 00000000 fd:01 123                        /opt/Count er/countersign
Rss:                 100 kB
Anonymous:             0 kB
55d0c0b00000-55d0c1200000 r-xp 00100000 fd:01 123                        /opt/Count er/countersign
Anonymous:             0 kB
VmFlags: rd ex mr mw me
55d0c1200000-55d0c1210000 r--p 00800000 fd:01 123                        /opt/Count er/countersign
Anonymous:            64 kB
55d0c1210000-55d0c1300000 rw-p 00810000 fd:01 123                        /opt/Count er/countersign
Anonymous:             0 kB
55d0c1300000-55d0c1400000 r--p 00900000 fd:01 124                        /opt/Count er/countersign-other
Anonymous:             0 kB
7f0000000000-7f0000100000 r-xp 00000000 fd:01 200                        /usr/lib/libgtk-3.so.0
Anonymous:             0 kB
7f0000100000-7f0000200000 rw-p 00000000 00:00 0 
Anonymous:            12 kB
7f0000200000-7f0000300000 r-xp 00000000 fd:01 125                        /usr/share/fonts/\xff.ttf
Anonymous:             0 kB
7f0000300000-7f0000400000 r-xp 00000000 fd:01 123                        /opt/Count er/countersign (deleted)
Anonymous:             0 kB
";
        // Code and read-only data, not the relocated read-only data (private
        // pages), the writable data, another file or the heap.
        assert_eq!(
            program_ranges(smaps, Path::new("/opt/Count er/countersign")),
            [(0x55d0_c0a0_0000, 0x55d0_c0b0_0000), (0x55d0_c0b0_0000, 0x55d0_c120_0000)]
        );
        // A mapping whose `Anonymous` line is missing is left alone; the last
        // mapping of the text is found too.
        assert_eq!(
            program_ranges(
                b"1000-2000 r-xp 0 fd:01 1 /p\n3000-4000 r--p 0 fd:01 1 /p\nAnonymous: 0 kB",
                Path::new("/p")
            ),
            [(0x3000, 0x4000)]
        );
        assert!(program_ranges(b"garbage\n\n", Path::new("/x")).is_empty());
    }

    /// Set for the child process of `released_pages_leave_the_process`.
    const ENV_RELEASE_CHILD: &str = "COUNTERSIGN_TEST_RELEASE_CHILD";

    /// The kibibytes of this process's mappings of its own file, not
    /// writable, that are resident.
    fn resident_program_kib() -> u64 {
        use std::os::unix::ffi::OsStrExt as _;
        let program = std::fs::read_link("/proc/self/exe").unwrap();
        let smaps = std::fs::read("/proc/self/smaps").unwrap();
        let (mut ours, mut kib) = (false, 0);
        for line in smaps.split(|&b| b == b'\n') {
            if let Some(mapping) = mapping_header(line) {
                ours = !mapping.perms.contains(&b'w') && mapping.path == program.as_os_str().as_bytes();
            } else if let (true, Some(rss)) = (ours, line.strip_prefix(b"Rss:")) {
                kib += std::str::from_utf8(rss).unwrap().trim().trim_end_matches(" kB").parse::<u64>().unwrap();
            }
        }
        kib
    }

    // Run in a child process of its own (this test alone, one thread), so
    // that no other test faults the code back in meanwhile: the program's
    // code is resident before, less than half of it after (what is left:
    // the relocated read-only data, and what this test runs meanwhile),
    // and the process goes on.
    #[test]
    fn released_pages_leave_the_process() {
        if std::env::var_os(ENV_RELEASE_CHILD).is_some() {
            let before = resident_program_kib();
            let released = release_program_pages().unwrap();
            let after = resident_program_kib();
            assert!(released > 0);
            assert!(after < before / 2, "resident code and read-only data: {before} KiB before, {after} KiB after");
            println!("released: {before} KiB -> {after} KiB");
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "memory::tests::released_pages_leave_the_process", "--test-threads=1", "--nocapture"])
            .env(ENV_RELEASE_CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("released: ") && stdout.contains("1 passed"), "{stdout}");
    }
}
