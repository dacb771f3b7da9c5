//! End-to-end tests of the real desktop app window (WebKitGTK under Xvfb,
//! driven through tauri-driver) against a real `countersign-server`. Run by
//! `cargo xtask test`, which provides the display, a private D-Bus session
//! and tauri-driver. They also make the screenshots in `docs/screenshots/`.

mod support;

use std::path::{Path, PathBuf};

use support::app::{app_binary, enroll_through_the_ui, AppDirs};
use support::dunst::Dunst;
use support::server::Server;
use support::webdriver::{open_card, screenshot, AppSession};

const PURCHASE_TYPE: &str = "urn:countersign:details:v1:purchase";
const EMAIL_TYPE: &str = "urn:countersign:details:v1:send_email";
const CALENDAR_TYPE: &str = "urn:countersign:details:v1:calendar_event";
const CUSTOMER_TYPE: &str = "customer_information";

/// A purchase whose item hides a right-to-left override, with a customer
/// data request carrying a field no schema describes: warnings to show.
const PURCHASE: &str = r#"[{"type":"urn:countersign:details:v1:purchase","merchant":{"name":"Example Outdoor Supply","url":"https://shop.example.com"},"items":[{"description":"Trail shoes \u202e34 ezis","quantity":1,"unit_price":{"amount":"129.90","currency":"EUR"}}],"total":{"amount":"129.90","currency":"EUR"},"shipping_address":"Zoë Martin\nHauptstr. 5\n10115 Berlin"},{"type":"customer_information","locations":["https://shop.example.com/customers"],"actions":["read"],"datatypes":["contacts"],"newsletter_opt_in":true}]"#;
/// The purchase alone (high risk, a hidden character).
const PURCHASE_ONLY: &str = r#"[{"type":"urn:countersign:details:v1:purchase","merchant":{"name":"Example Outdoor Supply","url":"https://shop.example.com"},"items":[{"description":"Trail shoes \u202e34 ezis","quantity":1,"unit_price":{"amount":"129.90","currency":"EUR"}}],"total":{"amount":"129.90","currency":"EUR"}}]"#;
const EMAIL: &str = r#"[{"type":"urn:countersign:details:v1:send_email","from":"zoe@example.com","to":["bob@example.org"],"subject":"Minutes of Tuesday's meeting","body_preview":"Hi Bob,\n\nthe minutes are attached.\n\nZoë"}]"#;

/// A low-risk request without anything to warn about.
const CALENDAR: &str = r#"[{"type":"urn:countersign:details:v1:calendar_event","action":"create","title":"Dentist","start":"2026-12-03T09:30:00Z","duration":"PT45M"}]"#;

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
}

#[tokio::test]
#[ignore = "needs a display and tauri-driver: run by `cargo xtask test`"]
async fn window_shows_product_name_and_empty_inbox() {
    let (dirs, session) = AppDirs::start_fresh().await;

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
    let (_dunst, server, dirs, session) = start_with_notifications_paused().await;
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
    open_card(&items[0]).await;
    let warnings = session.text_of("request-warnings").await;
    assert!(warnings.contains("RIGHT-TO-LEFT OVERRIDE"), "bidi warning: {warnings:?}");
    assert!(session.text_of("binding-message").await.contains("SHOP-7Q2"));
    // High risk: the computer confirms who it is before anything is signed.
    let step = session.text_of("os-verification").await;
    assert!(step.contains("your computer asks you to confirm it is you (fixed (tests only))"), "{step:?}");
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
    let payload = token["access_token"].as_str().expect("access token").split('.').nth(1).expect("payload");
    let claims: serde_json::Value =
        serde_json::from_slice(&countersign_protocol::jws::b64url_decode(payload).expect("base64url")).expect("json");
    assert_eq!(claims["amr"], serde_json::json!(["user"]), "how the user was verified reaches the agent");

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver: run by `cargo xtask test`"]
async fn an_admin_revokes_a_grant_from_the_app_and_its_token_introspects_inactive() {
    let (_dunst, server, _dirs, session) = start_with_notifications_paused().await;
    let shots = screenshots();
    // The role is carried to the app at enrollment.
    server.make_admin().await;
    enroll_through_the_ui(&session, &server, None).await;

    // An agent gets a token (the user approves in the window); another
    // request stays pending.
    let agent = server.agent("Calendar Helper", &[CALENDAR_TYPE, EMAIL_TYPE]).await;
    server.verify(&agent).await;
    session.click("nav-inbox").await;
    let calendar = server.request(&agent, CALENDAR, "CAL-7", "openid").await;
    session.wait_count("[data-testid=\"inbox-item\"]", 1).await;
    session.click("inbox-open").await;
    session.click("approve").await;
    session.wait_text("announcement", |t| t.contains("Approved")).await;
    let token = server.token(&agent, &calendar).await;
    let access = token["access_token"].as_str().expect("the agent's access token").to_owned();
    assert!(server.introspect_active(&agent, &access).await, "live before the revocation");
    server.request(&agent, EMAIL, "MAIL-9", "openid email").await;
    session.wait_count("[data-testid=\"inbox-item\"]", 1).await;

    // The admin view: pending across the organisation.
    session.click("nav-admin").await;
    let pending = session.wait_count("[data-testid=\"admin-row\"]", 1).await;
    let row = pending[0].text().await.expect("pending row");
    assert!(row.contains("Calendar Helper") && row.contains("MAIL-9"), "{row:?}");
    pending[0].click().await.expect("select the pending request");
    session.element("admin-cancel").await;
    screenshot(&shots.join("admin-pending.png"));

    // Grants: the approved one, revoked after the confirmation says what happens.
    session.click("admin-tab-grants").await;
    let grants = session.wait_count("[data-testid=\"admin-row\"]", 1).await;
    grants[0].click().await.expect("select the grant");
    session.click("admin-revoke-grant").await;
    let what = session.text_of("admin-confirm-what").await;
    assert!(
        what.contains("Revoke the grant") && what.contains(&agent.client_id) && what.contains("stop working at once"),
        "{what:?}"
    );
    screenshot(&shots.join("admin-grants.png"));
    session.click("admin-confirm-yes").await;
    let said = session.wait_text("admin-result", |t| t.contains("Revoked the grant")).await;
    assert!(said.contains("its access and refresh tokens no longer work"), "{said:?}");
    assert!(!server.introspect_active(&agent, &access).await, "the agent's token introspects inactive at once");
    session.wait_text("grant-status", |t| t == "revoked").await;

    // Clients, users and their devices, the audit log (the revocation in it).
    session.click("admin-tab-clients").await;
    let clients = session.wait_count("[data-testid=\"admin-row\"]", 1).await;
    clients[0].click().await.expect("select the client");
    session.element("admin-block-all").await;
    screenshot(&shots.join("admin-clients.png"));
    session.click("admin-tab-users").await;
    let users = session.wait_count("[data-testid=\"admin-row\"]", 1).await;
    users[0].click().await.expect("select the user");
    session.wait_count("[data-testid=\"admin-device\"]", 1).await;
    screenshot(&shots.join("admin-users.png"));
    session.click("admin-tab-audit").await;
    session.element("admin-row").await;
    let newest = session.text_of("admin-row").await;
    assert!(
        newest.contains("token.revoked") && newest.contains("device:"),
        "the revocation is audited first: {newest:?}"
    );
    screenshot(&shots.join("admin-audit.png"));

    session.close().await;
    server.server.stop().await;
}

/// Our own notification daemon, paused (notifications queue up instead of
/// covering the window in the screenshots), a server, and the app started
/// in fresh directories. Keep the daemon until the end of the test.
async fn start_with_notifications_paused() -> (Dunst, Server, AppDirs, AppSession) {
    let dunst = Dunst::start();
    Dunst::ctl(&["set-paused", "true"]);
    let server = Server::start().await;
    let (dirs, session) = AppDirs::start_fresh().await;
    (dunst, server, dirs, session)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, a private D-Bus session and tauri-driver: run by `cargo xtask test`"]
async fn a_notification_click_opens_the_request_and_bursts_make_one_notification() {
    let _dunst = Dunst::start();
    let server = Server::start().await;
    let (_dirs, session) = AppDirs::start_fresh().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, a private D-Bus session and tauri-driver: run by `cargo xtask test`"]
async fn an_enrollment_link_opens_the_preview_at_launch_and_a_second_launch_hands_it_over() {
    let server = Server::start().await;
    let dirs = AppDirs::new();

    // Started by a clicked link: the link is filled in and nothing is sent
    // until the user asks; the preview names the user and the server, and
    // nothing is enrolled before the user confirms.
    let first = server.enrollment_link().await;
    let session = dirs.start_with_args(&[&first]).await;
    assert!(session.text_of("enroll-handed-over").await.contains("Nothing has been sent yet"));
    session.click("enroll-check").await;
    let user = session.text_of("enroll-user").await;
    assert!(user.contains("Zoë Martin"), "the user is shown before confirming: {user:?}");
    assert_eq!(session.text_of("enroll-server").await, server.issuer());
    assert!(!dirs.data.join("keys").exists() || std::fs::read_dir(dirs.data.join("keys")).unwrap().count() == 0);
    session.click("enroll-confirm").await;
    session.wait_text("account-connection", |t| t.starts_with("Connected")).await;

    // A second launch with another link exits at once and the running
    // window shows that link's preview.
    session.click("nav-inbox").await;
    let second = server.enrollment_link().await;
    let status = dirs.launch_again(&[&second]);
    assert!(status.success(), "the second instance hands over and exits 0: {status}");
    session.element("enroll-handed-over").await;
    let shown = session.element("enroll-link").await.prop("value").await.expect("link value");
    assert_eq!(shown.as_deref(), Some(second.as_str()), "the running window shows the handed-over link");
    session.click("enroll-check").await;
    let user = session.text_of("enroll-user").await;
    assert!(user.contains("Zoë Martin"), "{user:?}");
    // A second launch without a link only brings the window forward.
    let status = dirs.launch_again(&[]);
    assert!(status.success(), "{status}");
    assert_eq!(session.client.title().await.expect("window title"), "Countersign");

    session.close().await;
    server.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, a private D-Bus session and tauri-driver: run by `cargo xtask test`"]
async fn a_low_risk_notification_approves_in_place_and_a_high_risk_one_only_opens() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let (_dunst, menus) = Dunst::start_choosing(scratch.path(), "Approve");
    let server = Server::start().await;
    let (_dirs, session) = AppDirs::start_fresh().await;
    enroll_through_the_ui(&session, &server, None).await;
    session.click("nav-inbox").await;
    let agent = server.agent("Calendar Helper", &[CALENDAR_TYPE, PURCHASE_TYPE]).await;
    // Only a verified agent's requests can be approved from a notification.
    server.verify(&agent).await;

    // Low risk, no warning: Approve in the notification signs and delivers.
    let calendar = server.request(&agent, CALENDAR, "CAL-1", "openid").await;
    session.wait_count("[data-testid=\"inbox-item\"]", 1).await;
    Dunst::wait_displayed(1).await;
    Dunst::ctl(&["context"]);
    let token = server.token(&agent, &calendar).await;
    assert!(token["access_token"].is_string(), "approved from the notification: {token}");
    assert_eq!(token["authorization_details"][0]["type"], CALENDAR_TYPE);
    let shown = std::fs::read_to_string(&menus).expect("the menu was shown");
    assert!(shown.contains("#Approve") && shown.contains("#Deny") && shown.contains("#Open"), "{shown}");
    session.wait_count("[data-testid=\"inbox-item\"]", 0).await;
    session.click("nav-history").await;
    assert_eq!(session.text_of("history-decision").await, "Approved");
    session.click("nav-inbox").await;
    Dunst::ctl(&["close-all"]);

    // High risk (and a hidden character): the notification only offers Open.
    std::fs::remove_file(&menus).expect("reset the menu log");
    let purchase = server.request(&agent, PURCHASE_ONLY, "SHOP-9", "openid payments").await;
    session.wait_count("[data-testid=\"inbox-item\"]", 1).await;
    Dunst::wait_displayed(1).await;
    Dunst::ctl(&["context"]);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let shown = std::fs::read_to_string(&menus).expect("the menu was shown");
    assert!(shown.contains("#Open") && !shown.contains("#Approve") && !shown.contains("#Deny"), "{shown}");
    let pending = server.token_once(&agent, &purchase).await;
    assert_eq!(pending["error"], "authorization_pending", "nothing was decided: {pending}");

    session.close().await;
    server.server.stop().await;
}

/// Types `text` into the (emptied) field with `data-testid`.
async fn fill(session: &AppSession, test_id: &str, text: &str) {
    let field = session.element(test_id).await;
    field.clear().await.expect("clear the field");
    field.send_keys(text).await.expect("type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver: run by `cargo xtask test`"]
async fn the_key_file_passphrase_is_asked_in_the_window_and_kept_in_memory_only() {
    const CHOSEN: &str = "walrus quietly orbits saffron";
    let server = Server::start().await;
    let dirs = AppDirs::new();
    // Keys in the encrypted file and no passphrase in the environment: the
    // app asks in its window.
    let env: Vec<_> = dirs.env().into_iter().filter(|(k, _)| *k != "COUNTERSIGN_INSECURE_KEY_PASSPHRASE").collect();
    let session = AppSession::start(app_binary(), &env).await;

    // Enrolling creates the key file: a new passphrase, twice, strong enough.
    session.click("nav-settings").await;
    session.click("add-account").await;
    let link = server.enrollment_link().await;
    session.element("enroll-link").await.send_keys(&link).await.expect("type the link");
    session.click("enroll-check").await;
    session.click("enroll-confirm").await;
    let dialog = session.element("passphrase-dialog").await;
    assert_eq!(dialog.attr("data-purpose").await.expect("attribute").as_deref(), Some("create"));
    fill(&session, "passphrase-input", "short one").await;
    fill(&session, "passphrase-repeat", "short one").await;
    session.click("passphrase-submit").await;
    let refused = session.text_of("passphrase-error").await;
    assert!(refused.contains("at least 12 characters"), "{refused:?}");
    fill(&session, "passphrase-input", CHOSEN).await;
    fill(&session, "passphrase-repeat", CHOSEN).await;
    session.click("passphrase-submit").await;
    session.wait_count("[data-testid=\"passphrase-dialog\"]", 0).await;
    session.wait_text("account-connection", |t| t.starts_with("Connected")).await;
    assert!(session.text_of("key-store-warning").await.contains("passphrase-encrypted"));
    session.close().await;
    // Written nowhere.
    let mut stack = vec![dirs.data.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("data dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                assert!(!bytes.windows(CHOSEN.len()).any(|w| w == CHOSEN.as_bytes()), "{}", path.display());
            }
        }
    }

    // The next start asks to open the file; a wrong passphrase is refused
    // and the app keeps asking; the right one connects the account.
    let session = AppSession::start(app_binary(), &env).await;
    let dialog = session.element("passphrase-dialog").await;
    assert_eq!(dialog.attr("data-purpose").await.expect("attribute").as_deref(), Some("open"));
    fill(&session, "passphrase-input", "walrus quietly orbits cumin").await;
    session.click("passphrase-submit").await;
    let refused = session.text_of("passphrase-error").await;
    assert!(refused.contains("does not open the key file"), "{refused:?}");
    fill(&session, "passphrase-input", CHOSEN).await;
    session.click("passphrase-submit").await;
    session.wait_count("[data-testid=\"passphrase-dialog\"]", 0).await;
    session.click("nav-settings").await;
    session.wait_text("account-connection", |t| t.starts_with("Connected")).await;

    session.close().await;
    server.server.stop().await;
}

#[tokio::test]
#[ignore = "needs a display and tauri-driver: run by `cargo xtask test`"]
async fn settings_switch_the_theme_and_start_at_login() {
    let (dirs, session) = AppDirs::start_fresh().await;
    session.click("nav-settings").await;
    session.click("setting-theme-dark").await;
    let deadline = std::time::Instant::now() + support::webdriver::UI_TIMEOUT;
    loop {
        let theme = session.client.execute("return document.documentElement.dataset.theme", vec![]).await;
        if theme.ok().and_then(|v| v.as_str().map(str::to_owned)).as_deref() == Some("dark") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the page never turned dark");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let saved = std::fs::read_to_string(dirs.data.join("desktop-settings.json")).expect("settings saved");
    assert!(saved.contains("\"dark\""), "{saved}");
    screenshot(&screenshots().join("settings-dark.png"));

    // Start at login writes the XDG autostart entry, starting in the tray.
    let entry = dirs.home.join(".config/autostart/Countersign.desktop");
    session.click("setting-start-at-login").await;
    let deadline = std::time::Instant::now() + support::webdriver::UI_TIMEOUT;
    while !entry.exists() {
        assert!(std::time::Instant::now() < deadline, "no autostart entry at {}", entry.display());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let text = std::fs::read_to_string(&entry).expect("autostart entry");
    assert!(text.contains("--hidden"), "{text}");
    assert!(text.contains(app_binary().to_str().expect("utf-8 path")), "{text}");
    session.click("setting-start-at-login").await;
    let deadline = std::time::Instant::now() + support::webdriver::UI_TIMEOUT;
    while entry.exists() {
        assert!(std::time::Instant::now() < deadline, "the autostart entry was not removed");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    session.close().await;
}

/// Ends a process at once (SIGKILL), as a crash would.
fn kill_now(pid: u32) {
    extern "C" {
        fn kill(pid: i32, signal: i32) -> i32;
    }
    const SIGKILL: i32 = 9;
    let pid = i32::try_from(pid).expect("a process id");
    // SAFETY: kill(2) with a live pid of our own session and a constant signal.
    let result = unsafe { kill(pid, SIGKILL) };
    assert_eq!(result, 0, "kill -9 {pid}");
}

/// The share of pixels that differ between two screenshots of the window
/// (1.0 when their sizes differ).
fn difference(a: &Path, b: &Path) -> f64 {
    let a = image::open(a).expect("screenshot").to_rgb8();
    let b = image::open(b).expect("screenshot").to_rgb8();
    if a.dimensions() != b.dimensions() {
        return 1.0;
    }
    let differing = a.pixels().zip(b.pixels()).filter(|(p, q)| p != q).count();
    differing as f64 / f64::from(a.width() * a.height())
}

/// Web process `pid` runs its script without the JIT (src-tauri/webview.rs).
fn assert_runs_without_jit(pid: u32) {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("the web process's environment");
    assert!(environ.split(|b| *b == 0).any(|v| v == b"JSC_useJIT=0"), "web process {pid} runs with its JIT");
}

/// Issue 19, item 8: when the window's web content process dies, the shell
/// reloads the page in a new one; the inbox lives in the core, so the
/// window comes back with every request, and live (a request sent
/// afterwards appears). WebKitWebDriver ends its session when the page
/// crashes, so the window is then read from the X server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver: run by `cargo xtask test`"]
async fn the_window_comes_back_with_its_inbox_when_its_web_process_dies() {
    let (_dunst, server, dirs, session) = start_with_notifications_paused().await;
    enroll_through_the_ui(&session, &server, None).await;
    let agent = server.agent("Mail Assistant", &[EMAIL_TYPE]).await;
    server.request(&agent, EMAIL, "MAIL-1", "openid email").await;
    session.close().await;
    // Started again, enrolled: the page a reload gives (the key store
    // warning, the inbox with its request).
    let session = dirs.start().await;
    let items = session.wait_count("[data-testid=\"inbox-item\"]", 1).await;
    assert!(items[0].text().await.expect("inbox item").contains("MAIL-1"));
    session.element("key-store-warning").await;
    let shots = dirs.root().join("shots");
    let before = shots.join("before.png");
    screenshot(&before);

    let web = session.web_processes();
    assert_eq!(web.len(), 1, "{:?}", session.processes());
    assert_runs_without_jit(web[0]);
    kill_now(web[0]);
    let deadline = std::time::Instant::now() + support::webdriver::UI_TIMEOUT;
    loop {
        let now = session.web_processes();
        if now.len() == 1 && now != web {
            // The new web process was started with the same environment.
            assert_runs_without_jit(now[0]);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no new web process: {:?}", session.processes());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // The reloaded window shows the same inbox (only its countdown moved on).
    let after = shots.join("after.png");
    let deadline = std::time::Instant::now() + support::webdriver::UI_TIMEOUT;
    loop {
        screenshot(&after);
        let changed = difference(&before, &after);
        if changed < 0.01 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the window did not come back: {changed:.3} of it differs");
    }
    // And it is live: a new request appears in it.
    server.request(&agent, EMAIL, "MAIL-2", "openid email").await;
    let later = shots.join("later.png");
    let deadline = std::time::Instant::now() + support::webdriver::UI_TIMEOUT;
    loop {
        screenshot(&later);
        if difference(&after, &later) > 0.03 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the reloaded window does not show new requests");
    }

    session.close().await;
    server.server.stop().await;
}

const PAYMENT_TYPE: &str = "payment_initiation";
const AUTH0_TYPE: &str = "urn:auth0:schemas:authorization-details:v1:trade";

/// `[[code points marked], textContent]` of every element matching `selector`.
async fn marks_of(session: &AppSession, selector: &str) -> Vec<(Vec<String>, String)> {
    let script = "return [...document.querySelectorAll(arguments[0])].map(e => [\
        [...e.querySelectorAll('mark.char-mark')].map(m => m.textContent.replace(/^⟦(\\S+) .*⟧$/, '$1')), \
        e.textContent])";
    let found = session.client.execute(script, vec![selector.into()]).await.expect("read the page");
    serde_json::from_value(found).expect("marks and text")
}

/// Whether `text` holds a character that must never reach the page raw.
fn raw_hidden(text: &str) -> bool {
    text.chars().any(
        |c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}' | '\u{1B}' | '\u{430}' | '\t'),
    )
}

/// Issue 19, items 2, 5, 6, 7 in the real window: hostile text sent through
/// a real agent and server is shown exactly, with a marker where each
/// flagged character stands, in every text slot (summaries, descriptions,
/// instructions, undescribed paths, warning messages, labels, multi-line
/// values); the inbox card says how many warnings and the worst kind; a
/// label's markers stay in the label column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver: run by `cargo xtask test`"]
async fn hostile_text_is_marked_where_it_stands_in_every_slot_of_the_window() {
    let (_dunst, server, _dirs, session) = start_with_notifications_paused().await;
    enroll_through_the_ui(&session, &server, None).await;
    session.click("nav-inbox").await;
    let agent = server.agent("Hostile Agent", &[EMAIL_TYPE, PAYMENT_TYPE, AUTH0_TYPE]).await;
    server.verify(&agent).await;

    let email = serde_json::json!([{"type": EMAIL_TYPE, "to": ["bob@example.org"],
        "subject": "Invoice from p\u{430}ypal.com \u{202E}evil\u{202C}", "body_preview": "Total:\t10 EUR\nIBAN:\tDE02"}]);
    let auth0 = serde_json::json!([{"type": AUTH0_TYPE, "instruction": "Buy shares from p\u{430}ypal",
        "properties": {"amount": {"display": true, "name": "Amount", "display_order": 1, "value": "10 AAPL",
                                  "description": "\u{202E}serahs LPAA 01 yuB"}}}]);
    let payment = serde_json::json!([{"type": PAYMENT_TYPE, "instructedAmount": {"currency": "EUR", "amount": "10.00"},
        "creditorName": "p\u{430}ypal.com", "creditorAccount": {"iban": "DE02100100109307118603"},
        "\u{1B}[2K": "erased", "tab\there": "aligned", "amount\u{202E}\u{2066}total": "9"}]);
    for (details, binding) in [(&email, "H-MAIL"), (&auth0, "H-AUTH0"), (&payment, "H-PAY")] {
        server.request(&agent, &details.to_string(), binding, "openid").await;
    }
    session.wait_count("[data-testid=\"inbox-item\"]", 3).await;

    // The inbox cards: summaries marked; how many warnings and the worst kind.
    let cards = marks_of(&session, "[data-testid=\"inbox-item\"]").await;
    let card = |binding: &str| cards.iter().find(|(_, text)| text.contains(binding)).expect("a card").clone();
    let summaries = marks_of(&session, "[data-testid=\"inbox-summary\"]").await;
    for (marks, text) in &summaries {
        assert!(!raw_hidden(text), "a raw hidden character in an inbox summary: {text:?}");
        assert!(marks.iter().any(|m| m == "U+0430"), "the lookalike letter is marked: {marks:?} in {text:?}");
    }
    assert!(card("H-MAIL").1.contains("warnings · Danger: direction-changing characters"), "{:?}", card("H-MAIL"));
    assert!(card("H-PAY").1.contains("warnings · Danger: direction-changing characters"), "{:?}", card("H-PAY"));
    assert!(card("H-AUTH0").1.contains("warnings · Danger: direction-changing characters"), "{:?}", card("H-AUTH0"));
    let marks: Vec<&String> = summaries.iter().flat_map(|(m, _)| m).collect();
    assert!(marks.contains(&&"U+202E".to_owned()) && marks.contains(&&"U+202C".to_owned()), "{marks:?}");

    let open = |binding: &'static str| {
        let session = &session;
        async move {
            session.click("nav-inbox").await;
            let items = session.wait_count("[data-testid=\"inbox-item\"]", 3).await;
            for item in items {
                if item.text().await.expect("card").contains(binding) {
                    open_card(&item).await;
                    session.element("request-detail").await;
                    return;
                }
            }
            panic!("no card for {binding}");
        }
    };

    // The e-mail: the summary and the multi-line body (a TAB marked and
    // counted, item 7).
    open("H-MAIL").await;
    let summary = marks_of(&session, "[data-testid=\"detail-summary\"]").await;
    assert_eq!(summary[0].0, ["U+0430", "U+202E", "U+202C"], "{summary:?}");
    assert!(!raw_hidden(&summary[0].1), "{summary:?}");
    let body = marks_of(&session, "[data-path=\"/body_preview\"] [data-testid=\"field-value\"]").await;
    assert_eq!(body[0].0, ["U+0009", "U+0009"], "{body:?}");
    let warnings = marks_of(&session, "[data-testid=\"request-warnings\"]").await;
    assert!(warnings[0].1.contains("2 unusual space characters: U+0009 CHARACTER TABULATION"), "{warnings:?}");

    // The Auth0 detail: the description revealed where it stands (item 5),
    // the instruction in the summary and in its field.
    open("H-AUTH0").await;
    let description = marks_of(&session, "[data-testid=\"field-description\"]").await;
    assert_eq!(description.len(), 1, "{description:?}");
    assert_eq!(description[0].0, ["U+202E"]);
    assert!(!raw_hidden(&description[0].1) && description[0].1.contains("serahs LPAA 01 yuB"), "{description:?}");
    let summary = marks_of(&session, "[data-testid=\"detail-summary\"]").await;
    assert_eq!(summary[0].0, ["U+0430"], "{summary:?}");
    let instruction = marks_of(&session, "[data-path=\"/instruction\"] [data-testid=\"field-value\"]").await;
    assert_eq!(instruction[0].0, ["U+0430"], "{instruction:?}");

    // The payment: undescribed paths in the warnings, the paths and the
    // labels, each marked (item 6); a label's markers stay in its column.
    open("H-PAY").await;
    let messages = marks_of(&session, "[data-testid=\"warning-message\"]").await;
    for (marks, text) in &messages {
        // A lookalike warning quotes its word as it looks, on purpose.
        let shown = if text.starts_with("Lookalike letters") { text.replace('\u{430}', "a") } else { text.clone() };
        assert!(!raw_hidden(&shown), "a raw hidden character in a warning: {text:?}");
        assert!(!text.contains("\\u{"), "an escape in the window: {text:?}");
        if text.starts_with("Not described by the schema: /") {
            assert!(!marks.is_empty(), "{text:?}");
        }
    }
    let undescribed: Vec<_> = messages.iter().filter(|(_, t)| t.starts_with("Not described by the schema")).collect();
    assert!(undescribed.iter().any(|(m, _)| m == &["U+001B"]), "{undescribed:?}");
    assert!(undescribed.iter().any(|(m, _)| m == &["U+0009"]), "{undescribed:?}");
    let paths = marks_of(&session, "[data-testid=\"field-path\"]").await;
    assert!(paths.iter().all(|(m, t)| !m.is_empty() && !raw_hidden(t)), "{paths:?}");
    let spill = session
        .client
        .execute(
            "return [...document.querySelectorAll('[data-testid=\"field\"]')].flatMap(f => {\
               const label = f.querySelector(':scope > dt'), value = f.querySelector(':scope > dd');\
               if (!label || !value || getComputedStyle(f).gridTemplateColumns.split(' ').length < 2) return [];\
               const edge = value.getBoundingClientRect().left;\
               return [...label.querySelectorAll('mark')].filter(m => m.getBoundingClientRect().right > edge + 0.5)\
                 .map(m => f.dataset.path + ': ' + m.textContent);\
             })",
            vec![],
        )
        .await
        .expect("measure the labels");
    assert_eq!(spill, serde_json::json!([]), "markers spill over the value column");
    let long_label =
        marks_of(&session, "[data-path=\"/amount\u{202E}\u{2066}total\"] [data-testid=\"field-label\"]").await;
    assert_eq!(long_label[0].0, ["U+202E", "U+2066"], "{long_label:?}");

    session.close().await;
    server.server.stop().await;
}

/// A payment (RFC 9396 §2.1): critical risk, so it requires a security key.
const PAYMENT: &str = r#"[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"1250.00"},"creditorName":"Møller & Søn ApS","creditorAccount":{"iban":"DK5000400440116243"}}]"#;

/// The PIN of the test's software security key.
const KEY_PIN: &str = "4739";

/// Types `pin` into the security key's PIN dialog once it asks with `text`.
async fn answer_pin(session: &AppSession, text: &str, pin: &str) {
    session.wait_text("security-key-text", |t| t == text).await;
    let dialog = session.element("security-key-dialog").await;
    assert_eq!(dialog.attr("data-step").await.expect("step").as_deref(), Some("pin"));
    session.element("security-key-pin").await.send_keys(pin).await.expect("type the PIN");
    session.click("security-key-pin-submit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver: run by `cargo xtask test`"]
async fn a_critical_request_is_approved_with_the_security_key_and_its_pin_in_the_window() {
    use countersign_approver::webauthn::{ENV_DANGER_SOFT_AUTHENTICATOR, ENV_DANGER_SOFT_AUTHENTICATOR_PIN};
    // Our own notification daemon, paused, for the test's length: without
    // it the app's notifications would start (by D-Bus activation) one that
    // outlives the test and answers the next test's menus.
    let _dunst = Dunst::start();
    Dunst::ctl(&["set-paused", "true"]);
    let server = Server::start_with_security_keys().await;
    let dirs = AppDirs::new();
    // The software token (the app's tests-only build) stands in for a USB
    // key with a PIN set: the same prompts, PIN dialog and ceremonies.
    let token = dirs.root().join("security-key.cbor");
    let mut env = dirs.env();
    env.push((ENV_DANGER_SOFT_AUTHENTICATOR, &token));
    env.push((ENV_DANGER_SOFT_AUTHENTICATOR_PIN, Path::new(KEY_PIN)));
    let session = AppSession::start(app_binary(), &env).await;
    enroll_through_the_ui(&session, &server, None).await;

    // Register a key: a wrong PIN first (refused, nothing registered), then the right one.
    session.wait_text("security-keys-empty", |t| t.contains("No security key")).await;
    session.click("add-security-key").await;
    fill(&session, "security-key-name", "Desk key").await;
    session.click("add-security-key-submit").await;
    answer_pin(&session, "Enter your security key's PIN to add it as \"Desk key\" (8 tries left)", "0000").await;
    session.wait_text("security-key-operation-error", |t| t == "wrong PIN (7 tries left)").await;
    assert!(session.client.source().await.expect("source").contains("data-testid=\"security-keys-empty\""));
    session.click("add-security-key-submit").await;
    answer_pin(&session, "Enter your security key's PIN to add it as \"Desk key\" (7 tries left)", KEY_PIN).await;
    session.wait_text("security-key-added", |t| t.contains("Desk key")).await;
    let listed = session.text_of("security-key").await;
    assert!(listed.contains("Desk key") && listed.contains("never used"), "{listed:?}");

    // A critical payment: the window says the key is needed; approving asks
    // for the PIN naming the request, then the touch.
    let agent = server.agent("Payments Agent", &["payment_initiation"]).await;
    let payment = server.request(&agent, PAYMENT, "PAY-4F7Q", "openid payments").await;
    session.click("nav-inbox").await;
    let items = session.wait_count("[data-testid=\"inbox-item\"]", 1).await;
    open_card(&items[0]).await;
    let needed = session.text_of("security-key-required").await;
    assert!(needed.contains("needs your security key"), "{needed:?}");
    session.element("confirm-code").await.send_keys("PAY-4F7Q").await.expect("type the code");
    session.click("approve").await;
    let asked = "Enter your security key's PIN to approve: PAY-4F7Q (8 tries left)";
    session.wait_text("security-key-text", |t| t == asked).await;
    screenshot(&screenshots().join("security-key-pin.png"));
    answer_pin(&session, asked, KEY_PIN).await;
    let said = session.text_of("announcement").await;
    assert!(said.contains("Approved the request from Payments Agent"), "{said:?}");
    let granted = server.token(&agent, &payment).await;
    assert!(granted["access_token"].is_string(), "the agent receives its token: {granted}");
    assert_eq!(granted["authorization_details"][0]["type"], "payment_initiation", "{granted}");

    // The key's use is listed.
    session.click("nav-settings").await;
    session.wait_text("security-key", |t| t.contains("last used")).await;

    session.close().await;
    server.server.stop().await;
}
