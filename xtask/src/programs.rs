//! Every external program xtask runs or the tests it runs need, and where it
//! comes from.
//!
//! A fresh machine has only what xtask installs, so a program missing here is
//! a test that passes on a developer's machine and fails on the next one. The
//! test in `scan.rs` reads the sources and fails on any spawned program this
//! table does not name.

use Need::*;

/// How a program gets onto the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// A Debian (and Ubuntu) package: xtask installs it through apt.
    Debian(&'static str),
    /// A crate xtask installs with `cargo install` followed by these arguments.
    CargoInstall(&'static [&'static str]),
    /// The Rust toolchain, which runs xtask itself.
    RustToolchain,
    /// Node.js 20 or newer: Debian 12 and Ubuntu 24.04 ship an older one, so it
    /// comes from elsewhere and xtask only checks it.
    NodeJs,
}

impl Provider {
    /// Where to get it, for messages.
    pub fn how(self) -> String {
        match self {
            Provider::Debian(package) => format!("Debian package {package}"),
            Provider::CargoInstall(args) => format!("`cargo install {}`", args.join(" ")),
            Provider::RustToolchain => "the Rust toolchain (https://rustup.rs)".to_string(),
            Provider::NodeJs => "Node.js 20 or newer (for example from NodeSource or nvm)".to_string(),
        }
    }
}

/// The parts of the work that need programs; each command names the parts it
/// runs, so it installs and checks no more than it uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Compiling the workspace and the UI.
    Build,
    /// Running the app with no display: a virtual X server, a private session bus.
    Headless,
    /// `cargo xtask demo --screenshot`: the picture of the window.
    Screenshot,
    /// The end-to-end tests of the real window (tests/e2e.rs).
    EndToEnd,
    /// The browser tests of the UI (playwright-core drives Debian's chromium).
    Browser,
    /// The keychain tests of the approver (gnome-keyring on a private D-Bus).
    Keychain,
    /// The CLI's polkit test (crates/cli/tests/polkit.rs): a private
    /// system bus and polkitd in a mount namespace, the CLI run as a test
    /// user typing at polkit's text agent on a pseudo-terminal (as root).
    Polkit,
    /// The fuzz smoke run of the display-schema renderer.
    Fuzz,
    /// The server's PostgreSQL tests: a throwaway cluster (`initdb`, `pg_ctl`
    /// from Debian's postgresql-15, run as the postgres user when root).
    Postgres,
    /// The interop tests (tests/interop): openid-client on Node.js, and
    /// soft-webauthn in a Python virtual environment.
    Interop,
    /// The desktop benchmark (benches/desktop.rs).
    Bench,
    /// The server benchmark beside oidc-provider (`cargo xtask bench-server`).
    BenchServer,
    /// Installing the rest: apt itself, and sudo when not root.
    Install,
}

/// What `cargo xtask test` runs, and so what `cargo xtask prereq` installs.
pub const TEST: &[Need] = &[Build, Headless, EndToEnd, Browser, Keychain, Polkit, Fuzz, Postgres, Interop];

/// What `cargo xtask bench-desktop` runs.
pub const BENCH: &[Need] = &[Build, Headless, Bench];

/// What `cargo xtask bench-server` runs.
pub const BENCH_SERVER: &[Need] = &[Build, BenchServer, Postgres];

/// A program xtask or a test runs, directly or through another program.
#[derive(Debug)]
pub struct Program {
    pub name: &'static str,
    pub provider: Provider,
    pub needed_for: &'static [Need],
}

impl Program {
    /// The program and where to get it, for messages.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.name, self.provider.how())
    }
}

const fn debian(name: &'static str, package: &'static str, needed_for: &'static [Need]) -> Program {
    Program { name, provider: Provider::Debian(package), needed_for }
}

pub const PROGRAMS: &[Program] = &[
    // Compiling: rustc links with cc; the -sys crates' build scripts find
    // GTK and WebKit with pkg-config; libfuzzer (cargo fuzz) is C++.
    Program { name: "cargo", provider: Provider::RustToolchain, needed_for: &[Build] },
    debian("cc", "build-essential", &[Build]),
    debian("c++", "build-essential", &[Fuzz]),
    debian("pkg-config", "pkg-config", &[Build]),
    // In Tauri's Linux prerequisites: its build tooling inspects binaries with it.
    debian("file", "file", &[Build]),
    // The CLI's tests approve in a pseudo-terminal (util-linux's script).
    debian("script", "bsdutils", &[Build]),
    Program { name: "node", provider: Provider::NodeJs, needed_for: &[Build, Browser, Interop] },
    // npm also installs the server benchmark's peer, which brings its own
    // Node 22 (oidc-provider 9 needs it).
    Program { name: "npm", provider: Provider::NodeJs, needed_for: &[Build, Browser, Interop, BenchServer] },
    // The Python interop tests' virtual environments (soft-webauthn, Auth0's
    // AI SDK for Python: their packages come from their pinned
    // requirements.txt through each venv's own pip).
    debian("python3", "python3", &[Interop]),
    // No display: xvfb-run starts Xvfb with an xauth cookie; dbus-run-session
    // gives the app a private session bus. GLib starts a session bus through
    // dbus-launch wherever none is set.
    debian("xvfb-run", "xvfb", &[Headless]),
    debian("Xvfb", "xvfb", &[Headless]),
    debian("xauth", "xauth", &[Headless]),
    debian("dbus-run-session", "dbus", &[Headless, Keychain]),
    debian("dbus-launch", "dbus-x11", &[Headless]),
    // Shell scripts: the screenshot of the window (demo and tests/support),
    // dunst's menu script in tests/e2e.rs, the keychain step of the tests.
    debian("sh", "dash", &[Screenshot, EndToEnd, Keychain]),
    debian("xwininfo", "x11-utils", &[Screenshot, EndToEnd]),
    debian("awk", "mawk", &[Screenshot, EndToEnd]),
    debian("grep", "grep", &[Screenshot, EndToEnd]),
    debian("cat", "coreutils", &[EndToEnd]),
    debian("seq", "coreutils", &[Screenshot]),
    debian("sleep", "coreutils", &[Screenshot]),
    debian("import", "imagemagick", &[Screenshot, EndToEnd]),
    // WebDriver: tauri-driver starts WebKitWebDriver, which drives the window.
    Program {
        name: "tauri-driver",
        provider: Provider::CargoInstall(&["tauri-driver", "--version", "^2", "--locked"]),
        needed_for: &[EndToEnd, Bench],
    },
    debian("WebKitWebDriver", "webkit2gtk-driver", &[EndToEnd, Bench]),
    // Notifications: a notification daemon on the test's session bus.
    debian("dunst", "dunst", &[EndToEnd, Bench]),
    debian("dunstctl", "dunst", &[EndToEnd, Bench]),
    debian("dbus-send", "dbus", &[EndToEnd]),
    debian("chromium", "chromium", &[Browser]),
    debian("gnome-keyring-daemon", "gnome-keyring", &[Keychain]),
    // polkit's text agent and checker; polkitd also brings the daemon
    // (/usr/lib/polkit-1/polkitd) and the setuid polkit-agent-helper-1 that
    // checks the password. A private system bus in a mount namespace
    // (unshare), the test user made with useradd and chpasswd, its
    // commands run with setpriv.
    debian("pkttyagent", "polkitd", &[Polkit]),
    debian("pkcheck", "polkitd", &[Polkit]),
    debian("pkexec", "pkexec", &[Polkit]),
    debian("dbus-daemon", "dbus", &[Polkit]),
    debian("unshare", "util-linux", &[Polkit]),
    debian("setpriv", "util-linux", &[Polkit]),
    debian("useradd", "passwd", &[Polkit]),
    debian("chpasswd", "passwd", &[Polkit]),
    // PostgreSQL refuses to run as root: the test cluster's initdb and
    // pg_ctl run as the postgres user (the package makes it).
    debian("runuser", "util-linux", &[Postgres]),
    Program { name: "cargo-fuzz", provider: Provider::CargoInstall(&["cargo-fuzz", "--locked"]), needed_for: &[Fuzz] },
    debian("kill", "procps", &[Bench]),
    // The HTTP load generator of the server benchmark (Lua-scripted bodies).
    debian("wrk", "wrk", &[BenchServer]),
    // A database per PostgreSQL run of the server benchmark, on its
    // throwaway cluster (postgresql-15 depends on the client).
    debian("psql", "postgresql-client-15", &[BenchServer]),
    // The SQLite shell and openssl, to look into a failed test's database
    // and keys on the machine that ran it.
    debian("sqlite3", "sqlite3", &[Interop]),
    debian("openssl", "openssl", &[Interop]),
    debian("apt-get", "apt", &[Install]),
    debian("dpkg-query", "dpkg", &[Install]),
    debian("id", "coreutils", &[Install]),
    debian("sudo", "sudo", &[Install]),
];

/// Debian packages with no program to look for: the libraries (with their
/// headers) the app links against, the accessibility bus GTK starts through
/// D-Bus, and Python's venv module (Debian's python3 makes a virtual
/// environment with pip in it only with python3-venv).
pub const LIBRARIES: &[(&str, Need)] = &[
    ("libwebkit2gtk-4.1-dev", Build),
    ("libssl-dev", Build),
    ("libayatana-appindicator3-dev", Build),
    ("librsvg2-dev", Build),
    ("libxdo-dev", Build),
    ("libdbus-1-dev", Build),
    // Security keys (webauthn-authenticator-rs's `usb` and `nfc`): fido-hid-rs
    // links libudev and runs bindgen (libclang); pcsc links PC/SC Lite (the
    // pcscd service is needed only to use an NFC reader, not to build or test).
    // The approver's tests' in-process key (crates/virtual-key) also runs
    // bindgen: littlefs2-sys, the C file system under trussed.
    ("libudev-dev", Build),
    ("libclang-dev", Build),
    ("libpcsclite-dev", Build),
    ("at-spi2-core", Headless),
    ("python3-venv", Interop),
    // PostgreSQL 15's server (initdb, pg_ctl, postgres under
    // /usr/lib/postgresql/15/bin, not on PATH) and its postgres user.
    ("postgresql-15", Postgres),
];

/// The programs any of `needs` calls for.
pub fn needed(needs: &[Need]) -> impl Iterator<Item = &'static Program> + '_ {
    PROGRAMS.iter().filter(|program| program.needed_for.iter().any(|need| needs.contains(need)))
}

/// The library packages any of `needs` calls for.
pub fn libraries(needs: &[Need]) -> impl Iterator<Item = &'static str> + '_ {
    LIBRARIES.iter().filter(|(_, need)| needs.contains(need)).map(|(package, _)| *package)
}

/// `name` and where to get it, for messages.
pub fn describe(name: &str) -> String {
    PROGRAMS.iter().find(|program| program.name == name).map_or_else(|| name.to_string(), Program::describe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debian_packages() -> impl Iterator<Item = &'static str> {
        PROGRAMS.iter().filter_map(|program| match program.provider {
            Provider::Debian(package) => Some(package),
            _ => None,
        })
    }

    /// Debian package names: lowercase letters, digits and `+-.`, starting
    /// with a letter or digit (Debian Policy 5.6.1).
    fn is_debian_package_name(name: &str) -> bool {
        name.len() >= 2
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
    }

    #[test]
    fn every_package_name_is_a_debian_package_name() {
        for package in debian_packages().chain(LIBRARIES.iter().map(|(package, _)| *package)) {
            assert!(is_debian_package_name(package), "`{package}` is not a Debian package name");
        }
    }

    #[test]
    fn no_program_is_listed_twice() {
        for (i, program) in PROGRAMS.iter().enumerate() {
            assert!(!program.name.is_empty() && !program.name.contains(char::is_whitespace), "{program:?}");
            assert!(
                PROGRAMS[..i].iter().all(|earlier| earlier.name != program.name),
                "{} is listed twice",
                program.name
            );
        }
    }

    #[test]
    fn no_library_is_also_a_program_package_or_listed_twice() {
        for (i, (library, _)) in LIBRARIES.iter().enumerate() {
            assert!(debian_packages().all(|package| package != *library), "{library} is also a program's package");
            assert!(LIBRARIES[..i].iter().all(|(earlier, _)| earlier != library), "{library} is listed twice");
        }
    }

    #[test]
    fn every_program_is_needed_for_something() {
        for program in PROGRAMS {
            assert!(!program.needed_for.is_empty(), "{} is needed for nothing", program.name);
        }
    }

    #[test]
    fn the_tests_need_the_keychain_daemon_and_the_benchmark_does_not() {
        assert!(needed(TEST).any(|program| program.name == "gnome-keyring-daemon"));
        assert!(!needed(BENCH).any(|program| program.name == "gnome-keyring-daemon"));
        assert!(libraries(BENCH).any(|package| package == "libwebkit2gtk-4.1-dev"));
    }

    #[test]
    fn messages_name_the_program_and_where_it_comes_from() {
        assert_eq!(describe("gnome-keyring-daemon"), "gnome-keyring-daemon (Debian package gnome-keyring)");
        assert_eq!(describe("tauri-driver"), "tauri-driver (`cargo install tauri-driver --version ^2 --locked`)");
        assert!(describe("node").contains("Node.js 20"));
    }
}
