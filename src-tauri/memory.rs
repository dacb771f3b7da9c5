//! The program's own code handed back to the kernel once the app has
//! started (Linux).
//!
//! Starting touches a large part of the binary: Tauri, GTK glue, the
//! approver's store, TLS and the event stream, each page mapped with its
//! neighbours by the kernel's fault-around. About 12 of its 28 MiB stayed
//! resident all day in the tray, though the idle app runs little of it (a
//! timer, a heartbeat on the event stream): the largest part of what the
//! app held beyond an empty Tauri app (docs/performance.md, "Desktop
//! app"). A few seconds after the first screen, [`release_program_pages`]
//! asks the kernel to reclaim the resident pages of every mapping of the
//! program's file that is not writable (`MADV_PAGEOUT`: code and read-only
//! data, clean pages that are read again from the file on their next use).
//! Nothing else changes: writable data, the heap and the libraries are left
//! as they are, and a page needed again costs one fault.

use std::path::Path;

/// How long after the first screen the pages are released: the start's
/// last work (the whole inbox listed, the event stream opened) done.
pub const RELEASE_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// The address ranges of the mappings of `program` in `maps` (the text of
/// `/proc/self/maps`) that are not writable.
pub fn program_ranges(maps: &str, program: &Path) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            // start-end perms offset dev inode path (the path may hold spaces).
            let mut fields = line.splitn(6, ' ');
            let range = fields.next()?;
            let perms = fields.next()?;
            let path = fields.nth(3)?.trim_start();
            if perms.contains('w') || Path::new(path) != program {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let (start, end) = (usize::from_str_radix(start, 16).ok()?, usize::from_str_radix(end, 16).ok()?);
            (start < end).then_some((start, end))
        })
        .collect()
}

/// Asks the kernel to reclaim the resident pages of this program's code and
/// read-only data; returns how many bytes of mappings were given to it.
/// Elsewhere than on Linux, nothing.
///
/// # Errors
/// `/proc/self` could not be read, or the kernel refused (before Linux
/// 5.4, which has no `MADV_PAGEOUT`).
#[cfg(target_os = "linux")]
pub fn release_program_pages() -> Result<usize, String> {
    let program = std::fs::read_link("/proc/self/exe").map_err(|e| format!("this program's path: {e}"))?;
    let maps = std::fs::read_to_string("/proc/self/maps").map_err(|e| format!("this program's mappings: {e}"))?;
    let mut released = 0;
    for (start, end) in program_ranges(&maps, &program) {
        let len = end - start;
        // SAFETY: a whole mapping of this process's own file, read-only:
        // `MADV_PAGEOUT` only drops its resident pages (clean file pages,
        // read again from the file when next used) and never changes what
        // the memory holds.
        let done = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_PAGEOUT) };
        if done != 0 {
            return Err(format!("madvise: {}", std::io::Error::last_os_error()));
        }
        released += len;
    }
    Ok(released)
}

#[cfg(not(target_os = "linux"))]
pub fn release_program_pages() -> Result<usize, String> {
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_s_read_only_mappings_are_found_in_proc_maps() {
        let maps = "\
55d0c0a00000-55d0c0b00000 r--p 00000000 fd:01 123 /opt/Count er/countersign
55d0c0b00000-55d0c1200000 r-xp 00100000 fd:01 123 /opt/Count er/countersign
55d0c1200000-55d0c1300000 rw-p 00800000 fd:01 123 /opt/Count er/countersign
55d0c1300000-55d0c1400000 r--p 00900000 fd:01 124 /opt/Count er/countersign-other
7f0000000000-7f0000100000 r-xp 00000000 fd:01 200 /usr/lib/libgtk-3.so.0
7f0000100000-7f0000200000 rw-p 00000000 00:00 0 
7f0000200000-7f0000300000 r-xp 00000000 fd:01 123 /opt/Count er/countersign (deleted)
";
        assert_eq!(
            program_ranges(maps, Path::new("/opt/Count er/countersign")),
            [(0x55d0_c0a0_0000, 0x55d0_c0b0_0000), (0x55d0_c0b0_0000, 0x55d0_c120_0000)]
        );
        assert!(program_ranges("garbage\n\n", Path::new("/x")).is_empty());
    }

    // The test program's own code: resident before, much less of it after
    // (the test's threads fault back in what they run meanwhile).
    #[cfg(target_os = "linux")]
    #[test]
    fn released_pages_leave_the_process() {
        let program = std::fs::read_link("/proc/self/exe").unwrap();
        let resident = || {
            let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
            let mut ours = false;
            let mut kib = 0_u64;
            for line in smaps.lines() {
                if let Some(rss) = line.strip_prefix("Rss:") {
                    if ours {
                        kib += rss.trim().trim_end_matches(" kB").parse::<u64>().unwrap();
                    }
                } else if line.split(' ').next().is_some_and(|r| r.contains('-') && !r.contains(':')) {
                    let mut fields = line.splitn(6, ' ');
                    let perms = fields.nth(1).unwrap_or("");
                    ours = !perms.contains('w') && fields.nth(3).map(str::trim_start) == program.to_str();
                }
            }
            kib
        };
        let before = resident();
        let released = release_program_pages().unwrap();
        let after = resident();
        assert!(released > 0);
        assert!(after < before / 2, "resident code and read-only data: {before} KiB before, {after} KiB after");
    }
}
