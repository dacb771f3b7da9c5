//! The app binary with a private data directory, keys in the encrypted file
//! (no user keychain is touched), exports into the same temporary directory,
//! and a private home (where the login item is written).

use std::path::{Path, PathBuf};

use super::server::Server;
use super::webdriver::{screenshot, AppSession};

pub const PASSPHRASE: &str = "e2e passphrase (throwaway keys)";

pub fn app_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_countersign"))
}

pub struct AppDirs {
    dir: tempfile::TempDir,
    pub data: PathBuf,
    pub exports: PathBuf,
    pub home: PathBuf,
}

impl AppDirs {
    pub fn new() -> AppDirs {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let exports = dir.path().join("exports");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home dir");
        AppDirs { dir, data, exports, home }
    }

    /// The temporary directory everything is in.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn env(&self) -> Vec<(&'static str, &Path)> {
        vec![
            ("COUNTERSIGN_DATA_DIR", &self.data),
            ("COUNTERSIGN_KEY_STORE", Path::new("file")),
            ("COUNTERSIGN_INSECURE_KEY_PASSPHRASE", Path::new(PASSPHRASE)),
            ("COUNTERSIGN_EXPORT_DIR", &self.exports),
            ("HOME", &self.home),
            // The OS prompt of user verification answers "verified" without
            // asking anyone (a danger-* test build): the window shows its
            // step; crates/cli/tests/polkit.rs runs polkit itself.
            ("COUNTERSIGN_DANGER_FIXED_VERIFIER", Path::new("verified")),
        ]
    }

    /// Fresh directories and the app started in them.
    pub async fn start_fresh() -> (AppDirs, AppSession) {
        let dirs = AppDirs::new();
        let session = dirs.start().await;
        (dirs, session)
    }

    pub async fn start(&self) -> AppSession {
        AppSession::start(app_binary(), &self.env()).await
    }

    pub async fn start_with_args(&self, args: &[&str]) -> AppSession {
        AppSession::start_with_args(app_binary(), &self.env(), args).await
    }

    /// Launches the app again, as a desktop does for a clicked link; returns
    /// how that second process ended.
    pub fn launch_again(&self, args: &[&str]) -> std::process::ExitStatus {
        let mut child = std::process::Command::new(app_binary())
            .args(args)
            .envs(self.env())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("launch the app again");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait for the second launch") {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("the second launch kept running: it must hand over and exit");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// Enrollment through the paste flow: the server is shown before confirming.
pub async fn enroll_through_the_ui(session: &AppSession, server: &Server, shot: Option<&Path>) {
    session.click("nav-settings").await;
    session.click("add-account").await;
    let link = server.enrollment_link().await;
    session.element("enroll-link").await.send_keys(&link).await.expect("type the link");
    session.click("enroll-check").await;
    let shown = session.text_of("enroll-server").await;
    assert_eq!(shown, server.issuer(), "the server named before confirming");
    if let Some(path) = shot {
        screenshot(path);
    }
    session.click("enroll-confirm").await;
    let account = session.text_of("account").await;
    assert!(account.contains("Zoë Martin"), "account shows the user: {account:?}");
    session.wait_text("account-connection", |t| t.starts_with("Connected")).await;
}
