//! Test support: a private polkit for one test, and a non-root user to run
//! a command as on a pseudo-terminal the test drives.
//!
//! [`World::start`] (Linux, as root) keeps the machine's own D-Bus and
//! polkit untouched:
//! - a child `unshare --mount --propagation private` holds a mount
//!   namespace where a tmpfs covers /run/dbus and the test's own actions and
//!   rules are bind-mounted over /usr/share/polkit-1/actions and
//!   /etc/polkit-1/rules.d (nothing is written to the host's directories);
//! - `dbus-daemon --system` and `/usr/lib/polkit-1/polkitd` run in that
//!   namespace, so the system bus is the default
//!   /run/dbus/system_bus_socket there: the setuid `polkit-agent-helper-1`
//!   ignores `DBUS_SYSTEM_BUS_ADDRESS`, only the default path reaches it;
//! - a test user (`cs-polkit-test`, a system user with a nologin shell and
//!   no home, created once with `useradd` if absent and kept; its random
//!   password set with `chpasswd` once per test process) runs commands
//!   through `setpriv`, with only the environment the test gives: on a
//!   pseudo-terminal the test reads and types at
//!   ([`World::spawn_as_user`]), or without a terminal
//!   ([`World::output_as_user`]). One world runs several commands.
//!
//! Dropping the [`World`] stops polkitd, the bus and the namespace, and
//! removes its temporary directory: /run/dbus on the host never sees a
//! socket or a pid file.
//!
//! When it cannot run here (not root, no namespaces, a program missing)
//! it says why with a [`Skip`]: [`skip`] prints `SKIPPED: …`, or fails when
//! [`required`] (in CI, or `COUNTERSIGN_REQUIRE_POLKIT=1`).

use std::io::Write;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::{Options, PtyChild, TestUser, World, TEST_USER};

/// Why a private polkit cannot run on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip(pub String);

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a missing prerequisite fails the test instead of skipping it:
/// in CI (`CI` set, and not `false`/`0`), or with
/// `COUNTERSIGN_REQUIRE_POLKIT=1`.
#[must_use]
pub fn required() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"));
    ci || std::env::var("COUNTERSIGN_REQUIRE_POLKIT").is_ok_and(|v| v == "1")
}

/// Reports a skip: `SKIPPED: why` on standard error, or, when
/// [`required`], a panic (the test fails). Written to the stream itself, not
/// with `eprintln!`, which the test harness captures and shows only for
/// failed tests: a skip must be seen.
///
/// # Panics
/// When the polkit test is required here.
pub fn skip(why: &Skip) {
    assert!(!required(), "the polkit test cannot run here and is required (CI or COUNTERSIGN_REQUIRE_POLKIT=1): {why}");
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}
