//! A notification daemon (dunst) on the private session bus of the
//! end-to-end tests and of the desktop benchmark (`benches/desktop.rs`
//! includes this file), driven with `dunstctl`.

use std::path::{Path, PathBuf};

/// A notification daemon on the test's private session bus (dunst, no
/// configuration), stopped when dropped.
pub struct Dunst(std::process::Child);

impl Dunst {
    pub fn start() -> Dunst {
        Self::start_with_config(Path::new("/dev/null"))
    }

    /// Dunst whose context menu (`dunstctl context`) picks the action named
    /// `choice`, as a user would in the menu; every menu it was shown is
    /// appended to the returned log.
    pub fn start_choosing(dir: &Path, choice: &str) -> (Dunst, PathBuf) {
        let log = dir.join("menus.log");
        let script = dir.join("choose.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nmenu=$(cat)\nprintf '%s\\n--\\n' \"$menu\" >> '{}'\nprintf '%s\\n' \"$menu\" | grep -m1 '^#{choice} ' || true\n",
                log.display()
            ),
        )
        .expect("menu script");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        let config = dir.join("dunstrc");
        std::fs::write(&config, format!("[global]\ndmenu = {}\n", script.display())).expect("dunstrc");
        (Self::start_with_config(&config), log)
    }

    pub fn start_with_config(config: &Path) -> Dunst {
        // Owned at once, so a failure below still stops it (Drop).
        let dunst = Dunst(
            std::process::Command::new("dunst")
                .arg("-config")
                .arg(config)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start dunst (apt package dunst)"),
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let owned = std::process::Command::new("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.Notifications",
                ])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
                .unwrap_or(false);
            if owned {
                return dunst;
            }
            assert!(std::time::Instant::now() < deadline, "dunst did not own org.freedesktop.Notifications");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    pub fn ctl(args: &[&str]) -> String {
        let out = std::process::Command::new("dunstctl").args(args).output().expect("run dunstctl");
        assert!(out.status.success(), "dunstctl {args:?} failed");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Notifications shown now.
    pub fn displayed() -> usize {
        Self::ctl(&["count", "displayed"]).parse().unwrap_or(0)
    }

    pub async fn wait_displayed(count: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while Self::displayed() != count {
            assert!(
                std::time::Instant::now() < deadline,
                "expected {count} notifications, dunst shows {}",
                Self::displayed()
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Dunst {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
