//! End-to-end tests of the real desktop app window (WebKitGTK under Xvfb,
//! driven through tauri-driver) against a real `countersign-server`. Run by
//! `cargo xtask test`, which provides the display, a private D-Bus session
//! and tauri-driver. They also make the screenshots in `docs/screenshots/`.

mod support;

use std::path::{Path, PathBuf};

use support::server::Server;
use support::webdriver::{screenshot, AppSession};

const PASSPHRASE: &str = "e2e passphrase (throwaway keys)";

const PURCHASE_TYPE: &str = "urn:countersign:details:v1:purchase";
const EMAIL_TYPE: &str = "urn:countersign:details:v1:send_email";
const CUSTOMER_TYPE: &str = "customer_information";

/// A purchase whose item hides a right-to-left override, with a customer
/// data request carrying a field no schema describes: warnings to show.
const PURCHASE: &str = r#"[{"type":"urn:countersign:details:v1:purchase","merchant":{"name":"Example Outdoor Supply","url":"https://shop.example.com"},"items":[{"description":"Trail shoes \u202e34 ezis","quantity":1,"unit_price":{"amount":"129.90","currency":"EUR"}}],"total":{"amount":"129.90","currency":"EUR"},"shipping_address":"Zoë Martin\nHauptstr. 5\n10115 Berlin"},{"type":"customer_information","locations":["https://shop.example.com/customers"],"actions":["read"],"datatypes":["contacts"],"newsletter_opt_in":true}]"#;
const EMAIL: &str = r#"[{"type":"urn:countersign:details:v1:send_email","from":"zoe@example.com","to":["bob@example.org"],"subject":"Minutes of Tuesday's meeting","body_preview":"Hi Bob,\n\nthe minutes are attached.\n\nZoë"}]"#;

fn app_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_countersign"))
}

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
}

/// A private data directory, keys in the encrypted file (no user keychain is
/// touched), exports into the same temporary directory.
struct AppDirs {
    dir: tempfile::TempDir,
    data: PathBuf,
    exports: PathBuf,
}

impl AppDirs {
    fn new() -> AppDirs {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let exports = dir.path().join("exports");
        AppDirs { dir, data, exports }
    }

    async fn start(&self) -> AppSession {
        let _ = &self.dir;
        AppSession::start(
            app_binary(),
            &[
                ("COUNTERSIGN_DATA_DIR", &self.data),
                ("COUNTERSIGN_KEY_STORE", Path::new("file")),
                ("COUNTERSIGN_KEY_PASSPHRASE", Path::new(PASSPHRASE)),
                ("COUNTERSIGN_EXPORT_DIR", &self.exports),
            ],
        )
        .await
    }
}

/// Enrollment through the paste flow: the server is shown before confirming.
async fn enroll_through_the_ui(session: &AppSession, server: &Server, shot: Option<&Path>) {
    session.click("nav-accounts").await;
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

#[tokio::test]
#[ignore = "needs a display and tauri-driver: run by `cargo xtask test`"]
async fn window_shows_product_name_and_empty_inbox() {
    let dirs = AppDirs::new();
    let session = dirs.start().await;

    // The empty state appears only after the UI's IPC call to the Rust side
    // (`inbox_views`) has answered, so this checks the whole path:
    // binary → embedded UI → capability-gated command → approver → rendered state.
    let empty = session.text_of("inbox-empty").await;
    assert!(empty.contains("No requests waiting"), "empty inbox text was {empty:?}");
    assert!(session.text_of("welcome").await.contains("No account yet"));
    assert_eq!(session.text_of("app-title").await, "Countersign");
    assert_eq!(session.client.title().await.expect("window title"), "Countersign");

    // Neither the loading nor an error state may remain on screen.
    let source = session.client.source().await.expect("page source");
    assert!(!source.contains("data-testid=\"inbox-error\""), "the inbox shows an error: {source}");
    assert!(!source.contains("data-testid=\"startup-error\""), "the approver did not open: {source}");
    assert!(!source.contains("data-testid=\"inbox-loading\""), "the inbox is still loading");
    // The approver opened its store in the data directory given to the app.
    assert!(dirs.data.join("approver.sqlite3").exists(), "no store in {}", dirs.data.display());
    screenshot(&screenshots().join("inbox-empty.png"));

    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver: run by `cargo xtask test`"]
async fn enroll_receive_approve_and_deny_in_the_window_and_the_agent_gets_its_token() {
    // Our own notification daemon, paused: notifications queue up instead of
    // covering the window in the screenshots.
    let _dunst = Dunst::start();
    Dunst::ctl(&["set-paused", "true"]);
    let server = Server::start().await;
    let dirs = AppDirs::new();
    let session = dirs.start().await;
    let shots = screenshots();

    enroll_through_the_ui(&session, &server, Some(&shots.join("enrollment.png"))).await;

    // The agent asks; the requests appear live, newest first.
    let agent = server.agent("Shopping Assistant", &[PURCHASE_TYPE, EMAIL_TYPE, CUSTOMER_TYPE]).await;
    session.click("nav-inbox").await;
    let email = server.request(&agent, EMAIL, "MAIL-22KD", "openid email").await;
    session.wait_count("[data-testid=\"inbox-item\"]", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let purchase = server.request(&agent, PURCHASE, "SHOP-7Q2", "openid payments").await;
    let items = session.wait_count("[data-testid=\"inbox-item\"]", 2).await;
    let first = items[0].text().await.expect("inbox item text");
    assert!(first.contains("Shopping Assistant") && first.contains("SHOP-7Q2"), "newest first: {first:?}");
    assert!(first.contains("risk"), "risk badge in words: {first:?}");
    assert!(first.contains("Expires in"), "countdown: {first:?}");
    screenshot(&shots.join("inbox.png"));
    let waiting: usize = Dunst::ctl(&["count", "waiting"]).parse().unwrap_or(0);
    assert!(waiting >= 1, "new requests are notified (queued while paused)");

    // The purchase: warnings first, the hidden character revealed; the binding
    // code must be typed to approve.
    items[0]
        .find(fantoccini::Locator::Css("[data-testid=\"inbox-open\"]"))
        .await
        .expect("review button")
        .click()
        .await
        .expect("open");
    let warnings = session.text_of("request-warnings").await;
    assert!(warnings.contains("RIGHT-TO-LEFT OVERRIDE"), "bidi warning: {warnings:?}");
    assert!(session.text_of("binding-message").await.contains("SHOP-7Q2"));
    screenshot(&shots.join("detail-warnings.png"));
    let approve = session.element("approve").await;
    assert!(!approve.is_enabled().await.expect("enabled state"), "approve must wait for the typed code");
    session.element("confirm-code").await.send_keys("SHOP-7Q2").await.expect("type the code");
    session.click("approve").await;
    let said = session.text_of("announcement").await;
    assert!(said.contains("Approved the request from Shopping Assistant"), "{said:?}");
    let token = server.token(&agent, &purchase).await;
    assert!(token["access_token"].is_string(), "the agent receives its token: {token}");
    assert_eq!(token["authorization_details"][0]["type"], PURCHASE_TYPE, "{token}");

    // The e-mail: denied with a reason; the agent is refused.
    session.wait_count("[data-testid=\"inbox-item\"]", 1).await;
    session.click("inbox-open").await;
    session.click("deny").await;
    session.click("deny-wrong_details").await;
    session.click("confirm-deny").await;
    session.wait_text("announcement", |t| t.contains("Denied")).await;
    let refused = server.token(&agent, &email).await;
    assert_eq!(refused["error"], "access_denied", "{refused}");

    // History, a receipt verified offline, and the export.
    session.click("nav-history").await;
    session.wait_count("[data-testid=\"history-item\"]", 2).await;
    let decisions = session.text_of("history-decision").await;
    assert_eq!(decisions, "Denied", "newest first");
    let verify = session.wait_count("[data-testid=\"verify\"]", 2).await;
    verify[1].click().await.expect("verify the approval's receipt");
    let result = session.text_of("verify-result").await;
    assert!(result.contains("Receipt valid"), "{result:?}");
    screenshot(&shots.join("history.png"));
    session.click("export").await;
    let exported = session.text_of("export-result").await;
    assert!(exported.contains("Exported 2 decisions"), "{exported:?}");
    let files: Vec<_> = std::fs::read_dir(&dirs.exports).expect("export dir").collect();
    assert_eq!(files.len(), 1, "one export file");

    session.close().await;
    server.server.stop().await;
}

/// A notification daemon on the test's private session bus (dunst, no
/// configuration), stopped when dropped.
struct Dunst(std::process::Child);

impl Dunst {
    fn start() -> Dunst {
        // Owned at once, so a failure below still stops it (Drop).
        let dunst = Dunst(
            std::process::Command::new("dunst")
                .args(["-config", "/dev/null"])
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

    fn ctl(args: &[&str]) -> String {
        let out = std::process::Command::new("dunstctl").args(args).output().expect("run dunstctl");
        assert!(out.status.success(), "dunstctl {args:?} failed");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Notifications shown now.
    fn displayed() -> usize {
        Self::ctl(&["count", "displayed"]).parse().unwrap_or(0)
    }

    async fn wait_displayed(count: usize) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, a private D-Bus session and tauri-driver: run by `cargo xtask test`"]
async fn a_notification_click_opens_the_request_and_bursts_make_one_notification() {
    let _dunst = Dunst::start();
    let server = Server::start().await;
    let dirs = AppDirs::new();
    let session = dirs.start().await;
    enroll_through_the_ui(&session, &server, None).await;
    session.click("nav-inbox").await;
    let agent = server.agent("Mail Assistant", &[EMAIL_TYPE]).await;

    // One request, one notification; its click opens that request.
    server.request(&agent, EMAIL, "MAIL-1", "openid email").await;
    let item = session.element("inbox-item").await;
    let id = item.attr("data-request-id").await.expect("attribute").expect("request id");
    Dunst::wait_displayed(1).await;
    Dunst::ctl(&["action", "0"]);
    let detail = session.element("request-detail").await;
    assert_eq!(detail.attr("data-request-id").await.expect("attribute").as_deref(), Some(id.as_str()));
    Dunst::ctl(&["close-all"]);
    Dunst::wait_displayed(0).await;

    // A burst of three is coalesced into one notification, which opens the inbox.
    for n in 2..5 {
        server.request(&agent, EMAIL, &format!("MAIL-{n}"), "openid email").await;
    }
    Dunst::wait_displayed(1).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(Dunst::displayed(), 1, "a burst makes one notification, never a storm");
    Dunst::ctl(&["action", "0"]);
    session.wait_count("[data-testid=\"inbox-item\"]", 4).await;

    session.close().await;
    server.server.stop().await;
}
