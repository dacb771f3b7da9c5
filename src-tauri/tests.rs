//! Command tests on Tauri's mock runtime with the app's real context: the
//! capability is enforced exactly as in the app (ACL on), but no display is
//! needed. The approver runs on a temporary data directory with keys in
//! memory, against a real `countersign-server` where a test needs one.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use countersign_approver::keys::MemoryKeyStore;
use countersign_approver::{ApproverConfig, KeyStoreChoice};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{Manager, WebviewWindow};

use crate::ipc_answers::IpcAnswers;
use crate::shell::Shell;

struct TestApp {
    _app: tauri::App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    dir: tempfile::TempDir,
}

fn config(dir: &Path) -> ApproverConfig {
    let mut config = ApproverConfig::new(dir.join("data"));
    config.key_store = KeyStoreChoice::Custom(Arc::new(MemoryKeyStore::new()));
    config.device_name = "desktop test".into();
    // Stands in for the OS prompt (crates/cli/tests/polkit.rs runs polkit).
    config.user_verifier =
        Arc::new(countersign_approver::verify::FixedVerifier::new(countersign_approver::verify::FixedAnswer::Verified));
    config
}

fn app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let shell = tauri::async_runtime::block_on(Shell::open(Ok(config(dir.path())), dir.path().join("exports")));
    let app = mock_app(shell, dir.path());
    let window = main_window(&app);
    TestApp { _app: app, window, dir }
}

/// The app's commands and state on the mock runtime, settings in `dir/data`.
fn mock_app(shell: Shell, dir: &Path) -> tauri::App<MockRuntime> {
    mock_builder()
        .plugin(tauri_plugin_autostart::Builder::new().build())
        .invoke_handler(crate::invoke_handler!())
        .manage(crate::settings::Settings::in_dir(Some(&dir.join("data"))))
        .manage(crate::notify::Notifier::default())
        .manage(shell)
        .build(tauri::generate_context!())
        .unwrap()
}

/// The main window (the mock runtime does not open the configured windows).
fn main_window(app: &tauri::App<MockRuntime>) -> WebviewWindow<MockRuntime> {
    match app.get_webview_window("main") {
        Some(window) => window,
        None => tauri::WebviewWindowBuilder::new(app, "main", Default::default()).build().unwrap(),
    }
}

fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    invoke_body(window, cmd, InvokeBody::Json(args))
}

/// The decision command `command` ("approve" or "deny") on request
/// `request_id` of account `account_id`, with the other arguments `more`
/// (`typed_binding_message`, `reason`).
fn decide(
    window: &WebviewWindow<MockRuntime>,
    command: &str,
    account_id: &str,
    request_id: &str,
    more: Value,
) -> Result<Value, Value> {
    let mut args = json!({ "account_id": account_id, "request_id": request_id });
    for (k, v) in more.as_object().unwrap() {
        args[k] = v.clone();
    }
    invoke(window, command, args)
}

fn invoke_body(window: &WebviewWindow<MockRuntime>, cmd: &str, body: InvokeBody) -> Result<Value, Value> {
    tauri::test::get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            // The app's own origin on Linux (custom protocol).
            url: "tauri://localhost".parse().unwrap(),
            body,
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().unwrap())
}

#[test]
fn every_command_is_declared_and_granted_and_nothing_else() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let capability: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("src-tauri/capabilities/main-window.json")).unwrap())
            .unwrap();
    let granted: Vec<&str> =
        capability["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    let expected: Vec<String> =
        crate::commands::NAMES.iter().map(|n| format!("allow-{}", n.replace('_', "-"))).collect();
    assert_eq!(granted, expected);
    assert_eq!(capability["windows"], json!(["main"]));
    assert!(capability.get("remote").is_none(), "no remote origin may call commands");

    // build.rs declares the same list (the file it includes).
    let build = std::fs::read_to_string(root.join("src-tauri/build.rs")).unwrap();
    assert!(build.contains("include!(\"command_list.rs\");"), "build.rs must declare the command list");
    assert!(build.contains("const COMMANDS: &[&str] = with_command_list!(command_names);"));
    let mut unique = crate::commands::NAMES.to_vec();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), crate::commands::NAMES.len(), "a command listed twice");

    let conf: Value = serde_json::from_str(&std::fs::read_to_string(root.join("tauri.conf.json")).unwrap()).unwrap();
    assert_eq!(conf["app"]["withGlobalTauri"], json!(false));
}

#[test]
fn commands_outside_the_capability_are_refused() {
    let t = app();
    // A core permission the window was never granted.
    let refused =
        invoke(&t.window, "plugin:event|listen", json!({ "event": "x", "target": { "kind": "Any" }, "handler": 1 }));
    assert!(refused.is_err(), "event listening must not be granted: {refused:?}");
    let refused = invoke(&t.window, "plugin:window|close", json!({ "label": "main" }));
    assert!(refused.is_err(), "window control must not be granted: {refused:?}");
    // The capability is for the main window only.
    let other = tauri::WebviewWindowBuilder::new(&t._app, "other", Default::default()).build().unwrap();
    let refused = invoke(&other, "app_status", json!({}));
    assert!(refused.is_err(), "another window must not reach the commands: {refused:?}");
    // The app's own command is allowed.
    let status = invoke(&t.window, "app_status", json!({})).unwrap();
    assert_eq!(status["name"], "Countersign");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["startup_error"], Value::Null);
}

#[test]
fn a_fresh_approver_has_no_accounts_requests_or_history() {
    let t = app();
    assert_eq!(invoke(&t.window, "accounts", json!({})).unwrap(), json!([]));
    assert_eq!(invoke(&t.window, "inbox_views", json!({})).unwrap(), json!([]));
    assert_eq!(invoke(&t.window, "history", json!({})).unwrap(), json!([]));
}

#[test]
fn errors_cross_as_code_message_and_the_characters_to_reveal_only() {
    let t = app();
    let error = invoke(&t.window, "approve", json!({ "account_id": "nope", "request_id": "req_1" })).unwrap_err();
    assert_eq!(error["code"], "unknown_request", "{error}");
    assert!(error["message"].as_str().unwrap().contains("req_1"));
    let mut keys: Vec<&str> = error.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["characters", "code", "message"], "only code, message and characters: {error}");
    assert_eq!(error["characters"], json!([]), "a clean message has nothing to reveal");

    // A message quoting hostile input lists the character where it stands,
    // so the window marks it like every other text.
    let error =
        invoke(&t.window, "approve", json!({ "account_id": "nope", "request_id": "req\u{202E}1" })).unwrap_err();
    let message = error["message"].as_str().unwrap();
    let at = message.chars().position(|c| c == '\u{202E}').expect("the message quotes the id exactly");
    assert_eq!(error["characters"][0]["position"], json!(at), "{error}");
    assert_eq!(error["characters"][0]["code_point"], "U+202E", "{error}");

    let error =
        invoke(&t.window, "deny", json!({ "account_id": "a", "request_id": "r", "reason": "because" })).unwrap_err();
    assert_eq!(error["code"], "invalid");

    let error = invoke(&t.window, "verify_receipt", json!({ "account_id": "a", "request_id": "r" })).unwrap_err();
    assert_eq!(error["code"], "no_receipt");

    let error = invoke(&t.window, "remove_account", json!({ "account_id": "a" })).unwrap_err();
    assert_eq!(error["code"], "unknown_account");
}

#[test]
fn a_security_key_failure_crosses_as_its_own_code_with_the_words_for_the_user() {
    use countersign_approver::webauthn::AuthenticatorError;
    let error = crate::IpcError::from(countersign_approver::Error::from(AuthenticatorError::PinInvalid {
        retries_left: Some(2),
    }));
    assert_eq!(error.code, "security_key");
    assert!(error.message.contains("wrong PIN") && error.message.contains('2'), "{}", error.message);
}

#[test]
fn bad_enrollment_links_are_refused_and_never_leak_the_ticket() {
    let t = app();
    let ticket = "A".repeat(43);
    // Nothing listens on port 9: the preview asks the server, and says it cannot.
    let link = format!("countersign://enroll?issuer=http%3A%2F%2F127.0.0.1%3A9&ticket={ticket}");
    let error = invoke(&t.window, "enroll_preview", json!({ "link": format!("  {link}\n") })).unwrap_err();
    assert!(["network", "server_metadata"].contains(&error["code"].as_str().unwrap()), "{error}");
    assert!(!error["message"].as_str().unwrap().contains(&ticket), "the ticket must not leak: {error}");

    let error = invoke(&t.window, "enroll_preview", json!({ "link": "https://evil.example/?ticket=x" })).unwrap_err();
    assert_eq!(error["code"], "invalid_enrollment_link");
    assert!(!error["message"].as_str().unwrap().contains(&ticket));

    // A refused enrollment (nothing listens on this port) leaves no account.
    let link = format!("countersign://enroll?issuer=http%3A%2F%2F127.0.0.1%3A9&ticket={ticket}");
    let error = invoke(&t.window, "enroll", json!({ "link": link })).unwrap_err();
    assert!(["network", "server_metadata"].contains(&error["code"].as_str().unwrap()), "{error}");
    assert!(!error["message"].as_str().unwrap().contains(&ticket), "the ticket must not leak: {error}");
    assert_eq!(invoke(&t.window, "accounts", json!({})).unwrap(), json!([]));
}

#[test]
fn export_writes_a_private_json_file_and_never_overwrites() {
    let t = app();
    let shell = t.window.state::<Shell>();
    let report = tauri::async_runtime::block_on(shell.export_history(1_767_225_600)).unwrap();
    assert_eq!(report.decisions, 0);
    let path = t.dir.path().join("exports/countersign-history-1767225600.json");
    assert_eq!(report.path, path.display().to_string());
    let document: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(document["format"], "countersign-history-v1");
    assert_eq!(document["decisions"], json!([]));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let again = tauri::async_runtime::block_on(shell.export_history(1_767_225_600)).unwrap_err();
    assert_eq!(again.code, "export_failed");
}

#[test]
fn a_startup_failure_is_reported_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the data directory should be: the store cannot open.
    let blocker = dir.path().join("data");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let shell = tauri::async_runtime::block_on(Shell::open(Ok(config(dir.path())), dir.path().to_path_buf()));
    let app = mock_app(shell, dir.path());
    let window = main_window(&app);
    let status = invoke(&window, "app_status", json!({})).unwrap();
    assert_eq!(status["startup_error"]["code"], "store");
    let error = invoke(&window, "inbox_views", json!({})).unwrap_err();
    assert_eq!(error["code"], "store");
    // The page shows the failure as its first screen and says so: a start
    // waiting for it goes on at once (and reports the same failure).
    assert_eq!(invoke(&window, "first_screen_shown", json!({})).unwrap(), json!(null));
    let shell = window.state::<Shell>();
    let started = tauri::async_runtime::block_on(async {
        tokio::time::timeout(Duration::from_secs(10), shell.start_after_first_screen(Duration::from_secs(3600))).await
    });
    assert_eq!(started.expect("the start waited for a first screen that had come").unwrap_err().code, "store");
}

#[test]
fn key_store_names_from_the_environment() {
    let choice = |name: &str| KeyStoreChoice::from_name(name).map_err(crate::IpcError::from);
    assert!(matches!(choice("").unwrap(), KeyStoreChoice::Auto));
    assert!(matches!(choice("file").unwrap(), KeyStoreChoice::File));
    assert!(matches!(choice("keychain").unwrap(), KeyStoreChoice::Keychain));
    assert_eq!(choice("memory").unwrap_err().code, "invalid_config");
}

// ---------------------------------------------------------------------------
// Against a real server: enroll, receive, approve, deny, verify, export.
// ---------------------------------------------------------------------------

/// The end-to-end tests' server and demo agent (one copy of that code);
/// these tests use part of it.
#[allow(dead_code)]
#[path = "../tests/support/server.rs"]
mod test_server;

use test_server::Server;

/// A purchase whose item description hides a right-to-left override.
const DETAILS: &str = r#"[{"type":"urn:countersign:details:v1:purchase","merchant":{"name":"Example Outdoor Supply","url":"https://shop.example.com"},"items":[{"description":"Trail shoes \u202e34 ezis","quantity":1,"unit_price":{"amount":"129.90","currency":"EUR"}}],"total":{"amount":"129.90","currency":"EUR"}}]"#;
const DETAIL_TYPE: &str = "urn:countersign:details:v1:purchase";

/// Reads `read` every 50 ms until `done` holds for what it read (for 20 s at
/// most: then the test fails, saying `what` and the last value read).
fn wait_until<T: std::fmt::Debug>(what: &str, mut read: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let value = read();
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}; still {value:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for_inbox(window: &WebviewWindow<MockRuntime>, count: usize) -> Vec<Value> {
    wait_until(
        &format!("expected {count} requests"),
        || invoke(window, "inbox_views", json!({})).unwrap().as_array().unwrap().clone(),
        |views| views.len() == count,
    )
}

#[test]
fn enroll_receive_approve_deny_verify_and_export_against_a_real_server() {
    let t = app();
    let server = tauri::async_runtime::block_on(Server::start());
    let link = tauri::async_runtime::block_on(server.enrollment_link());

    // The preview names the server and the user without using the ticket up.
    let mut answers = IpcAnswers::default();
    let preview = invoke(&t.window, "enroll_preview", json!({ "link": link })).unwrap();
    answers.add("EnrollPreview", &preview);
    assert_eq!(preview["issuer"], server.server.base_url.as_str());
    assert_eq!(preview["user"]["name"], "Zoë Martin");
    assert_eq!(preview["plain_http"], true);

    let outcome = invoke(&t.window, "enroll", json!({ "link": link })).unwrap();
    answers.add("EnrollOutcome", &outcome);
    assert_eq!(outcome["replaced"], false);
    let account = outcome["account"].clone();
    assert_eq!(account["user"]["name"], "Zoë Martin");
    let account_id = account["id"].as_str().unwrap().to_owned();
    // No key material crosses IPC: only the public JWK.
    let text = account.to_string();
    assert!(!text.contains("\"d\""), "a private key member crossed IPC: {text}");
    let accounts = invoke(&t.window, "accounts", json!({})).unwrap();
    assert_eq!(accounts[0]["id"], account_id.as_str());
    // The core's findings in the user's name travel with the account (none here).
    assert_eq!(outcome["user_text"], json!([]), "{outcome}");
    assert_eq!(accounts[0]["user_text"], json!([]), "{accounts}");

    // Events are forwarded as in the app, and the transport delivers the requests to the inbox.
    let events = t.window.state::<Shell>().approver().unwrap().subscribe();
    tauri::async_runtime::spawn(crate::events::forward(t.window.app_handle().clone(), events));
    // The UI's event channel, as the page would receive it.
    let ui_events = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let sink = ui_events.clone();
    t.window.state::<Shell>().subscribe(tauri::ipc::Channel::new(move |body| {
        if let tauri::ipc::InvokeResponseBody::Json(json) = body {
            sink.lock().unwrap().push(serde_json::from_str(&json).unwrap());
        }
        Ok(())
    }));
    tauri::async_runtime::block_on(t.window.state::<Shell>().start()).unwrap();
    let agent = tauri::async_runtime::block_on(server.agent("Shop <b>Agent</b>", &[DETAIL_TYPE]));
    let first = tauri::async_runtime::block_on(server.request(&agent, DETAILS, "ORDER-1", "openid"));
    wait_for_inbox(&t.window, 1);
    std::thread::sleep(Duration::from_millis(1100));
    let second = tauri::async_runtime::block_on(server.request(&agent, DETAILS, "ORDER-2", "openid"));
    let views = wait_for_inbox(&t.window, 2);
    answers.add("RequestView[]", &Value::Array(views.clone()));

    // The first screen at start (`limit`): the newest only.
    let newest = invoke(&t.window, "inbox_views", json!({ "limit": 1 })).unwrap();
    assert_eq!(newest, json!([views[0].clone()]));
    // Newest first, exactly as received, with the display model and its warnings.
    assert_eq!(views[0]["item"]["request"]["binding_message"], "ORDER-2");
    assert_eq!(views[1]["item"]["request"]["binding_message"], "ORDER-1");
    assert_eq!(views[0]["item"]["request"]["client"]["client_name"], "Shop <b>Agent</b>");
    assert_eq!(views[0]["item"]["account_id"], account_id.as_str());
    let display = &views[0]["display"];
    assert!(display["warning_count"].as_u64().unwrap() >= 1, "a bidi warning expected: {display}");
    assert_eq!(display["details"][0]["type"], DETAIL_TYPE);
    let request_id = views[1]["item"]["request"]["id"].as_str().unwrap().to_owned();
    let other_id = views[0]["item"]["request"]["id"].as_str().unwrap().to_owned();

    let one = invoke(&t.window, "request_view", json!({ "account_id": account_id, "request_id": request_id })).unwrap();
    assert_eq!(one["item"]["request"]["binding_message"], "ORDER-1");

    // A high-risk purchase requires user verification: the binding code typed, then the OS prompt.
    let refused = decide(&t.window, "approve", &account_id, &request_id, json!({})).unwrap_err();
    assert_eq!(refused["code"], "confirmation_required", "{refused}");
    let refused = decide(&t.window, "approve", &account_id, &request_id, json!({ "typed_binding_message": "ORDER-2" }))
        .unwrap_err();
    answers.add("BackendError", &refused);
    assert_eq!(refused["code"], "binding_message_mismatch", "the core compares the code: {refused}");
    let refused = decide(&t.window, "approve", &account_id, &request_id, json!({ "typed_binding_message": "order-1" }))
        .unwrap_err();
    assert_eq!(refused["code"], "binding_message_mismatch", "case-sensitive: {refused}");
    assert_eq!(invoke(&t.window, "history", json!({})).unwrap(), json!([]), "nothing signed");

    // Approve the first with its code (surrounding white space aside): the
    // agent gets its token.
    assert_eq!(one["confirmation_required"], true, "the view tells the UI to ask: {one}");
    let outcome =
        decide(&t.window, "approve", &account_id, &request_id, json!({ "typed_binding_message": " ORDER-1\n" }))
            .unwrap();
    answers.add("DecisionOutcome", &outcome);
    assert_eq!(outcome["history"]["decision"], "approve");
    let token = tauri::async_runtime::block_on(server.token(&agent, &first));
    assert!(token["access_token"].is_string(), "token answer: {token}");

    // Deny the second with a reason: the agent is refused.
    let outcome = decide(&t.window, "deny", &account_id, &other_id, json!({ "reason": "wrong_details" })).unwrap();
    answers.add("DecisionOutcome", &outcome);
    assert_eq!(outcome["history"]["deny_reason"], "wrong_details");
    let refused = tauri::async_runtime::block_on(server.token(&agent, &second));
    assert_eq!(refused["error"], "access_denied", "{refused}");

    // Deciding twice is refused.
    let error = decide(&t.window, "approve", &account_id, &other_id, json!({ "typed_binding_message": "ORDER-2" }))
        .unwrap_err();
    assert_eq!(error["code"], "not_pending");

    // History, newest first, with the requests; receipts verify offline.
    let history = invoke(&t.window, "history", json!({})).unwrap();
    answers.add("HistoryView[]", &history);
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[0]["decision"], "deny");
    assert_eq!(history[0]["request"]["binding_message"], "ORDER-2");
    let check =
        invoke(&t.window, "verify_receipt", json!({ "account_id": account_id, "request_id": request_id })).unwrap();
    answers.add("ReceiptCheck", &check);
    assert_eq!(check["signature_valid"], true, "{check}");
    assert_eq!(check["statement_hash_valid"], true, "{check}");
    assert_eq!(check["problems"], json!([]));

    let report = invoke(&t.window, "export_history", json!({})).unwrap();
    answers.add("ExportReport", &report);
    assert_eq!(report["decisions"], 2);
    let exported: Value =
        serde_json::from_str(&std::fs::read_to_string(report["path"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(exported["decisions"][1]["request_id"], request_id.as_str());

    // Connection state is reported per account once the transport ran.
    let accounts = invoke(&t.window, "accounts", json!({})).unwrap();
    answers.add("AccountView[]", &accounts);
    assert!(!accounts[0]["connection"].is_null(), "{accounts}");
    answers
        .add("UnverifiedBlock", &invoke(&t.window, "unverified_block", json!({ "account_id": account_id })).unwrap());
    answers.add("AppStatus", &invoke(&t.window, "app_status", json!({})).unwrap());
    answers.add("SettingsView", &invoke(&t.window, "settings", json!({})).unwrap());

    // Re-enrolling: an unknown account is refused before the ticket is used;
    // the same user at the same server replaces the account.
    let link = tauri::async_runtime::block_on(server.enrollment_link());
    let error = invoke(&t.window, "enroll", json!({ "link": link, "replaces": "acct_unknown" })).unwrap_err();
    assert_eq!(error["code"], "unknown_account");
    let outcome = invoke(&t.window, "enroll", json!({ "link": link, "replaces": account_id })).unwrap();
    answers.add("EnrollOutcome", &outcome);
    assert_eq!(outcome["replaced"], true, "{outcome}");
    assert_eq!(outcome["kept_because"], Value::Null);
    let new_id = outcome["account"]["id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, account_id);
    let accounts = invoke(&t.window, "accounts", json!({})).unwrap();
    assert_eq!(accounts.as_array().unwrap().len(), 1);
    assert_eq!(accounts[0]["id"], new_id.as_str());

    invoke(&t.window, "remove_account", json!({ "account_id": new_id })).unwrap();
    assert_eq!(invoke(&t.window, "accounts", json!({})).unwrap(), json!([]));
    tauri::async_runtime::block_on(t.window.state::<Shell>().stop());

    // What the commands answered, and the events the page received, are
    // what the UI's types say they are.
    let ui_events = Value::Array(ui_events.lock().unwrap().clone());
    for kind in ["connection", "new_request", "decided"] {
        assert!(
            ui_events.as_array().unwrap().iter().any(|e| e["event"] == kind),
            "no {kind} event reached the page: {ui_events}"
        );
    }
    answers.add("UiEvent[]", &ui_events);
    answers.type_check();
}

/// The number of pending requests the approver has stored.
fn pending_count(window: &WebviewWindow<MockRuntime>) -> u64 {
    tauri::async_runtime::block_on(window.state::<Shell>().approver().unwrap().pending_count()).unwrap()
}

/// Waits until `count` requests are pending, without asking for the inbox.
fn wait_for_pending(window: &WebviewWindow<MockRuntime>, count: u64) {
    wait_until(&format!("expected {count} pending requests"), || pending_count(window), |n| *n == count);
}

#[test]
fn the_transport_starts_after_the_first_screen_or_after_the_wait() {
    let t = app();
    let server = tauri::async_runtime::block_on(Server::start());
    let link = tauri::async_runtime::block_on(server.enrollment_link());
    invoke(&t.window, "enroll", json!({ "link": link })).unwrap();
    let agent = tauri::async_runtime::block_on(server.agent("Shop", &[DETAIL_TYPE]));

    // Waiting for the first screen: a request made meanwhile is not fetched.
    let handle = t.window.app_handle().clone();
    let started = tauri::async_runtime::spawn(async move {
        handle.state::<Shell>().start_after_first_screen(Duration::from_secs(60)).await
    });
    tauri::async_runtime::block_on(server.request(&agent, DETAILS, "ORDER-1", "openid"));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(pending_count(&t.window), 0, "the transport ran before the first screen");
    assert!(!started.inner().is_finished());

    // The page's first inbox answer does not start it: the page is still
    // drawing it.
    assert_eq!(invoke(&t.window, "inbox_views", json!({ "limit": 12 })).unwrap(), json!([]));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!started.inner().is_finished(), "the transport started before the first screen was painted");

    // The page says its first screen is painted: the request arrives.
    assert_eq!(invoke(&t.window, "first_screen_shown", json!({})).unwrap(), json!(null));
    let ended = tauri::async_runtime::block_on(async { tokio::time::timeout(Duration::from_secs(10), started).await });
    ended.expect("the first screen did not start the transport").unwrap().unwrap();
    wait_for_pending(&t.window, 1);
    tauri::async_runtime::block_on(t.window.state::<Shell>().stop());

    // A page that never asks: the transport starts when the wait is over.
    let t = app();
    let link = tauri::async_runtime::block_on(server.enrollment_link());
    invoke(&t.window, "enroll", json!({ "link": link })).unwrap();
    let before = Instant::now();
    tauri::async_runtime::block_on(t.window.state::<Shell>().start_after_first_screen(Duration::from_millis(300)))
        .unwrap();
    let waited = before.elapsed();
    assert!(waited >= Duration::from_millis(300), "started after {waited:?}");
    tauri::async_runtime::block_on(server.request(&agent, DETAILS, "ORDER-2", "openid"));
    // The user's two pending requests: ORDER-1 is still waiting too.
    wait_for_pending(&t.window, 2);
    tauri::async_runtime::block_on(t.window.state::<Shell>().stop());

    // The app waits with its window shown, not when it starts in the tray.
    assert_eq!(Shell::first_screen_wait(true), crate::shell::FIRST_SCREEN_WAIT);
    assert_eq!(Shell::first_screen_wait(false), Duration::ZERO);

    // Quit while waiting: the transport is never started after the stop.
    let t = app();
    let link = tauri::async_runtime::block_on(server.enrollment_link());
    invoke(&t.window, "enroll", json!({ "link": link })).unwrap();
    let mut events = t.window.state::<Shell>().approver().unwrap().subscribe();
    let handle = t.window.app_handle().clone();
    let waiting = tauri::async_runtime::spawn(async move {
        handle.state::<Shell>().start_after_first_screen(Duration::from_millis(500)).await
    });
    tauri::async_runtime::block_on(t.window.state::<Shell>().stop());
    tauri::async_runtime::block_on(waiting).unwrap().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // A started transport says at once that it is connecting.
    while let Ok(event) = events.try_recv() {
        assert!(
            !matches!(event, countersign_approver::ApproverEvent::Connection { .. }),
            "the transport ran after the stop: {event:?}"
        );
    }
}

#[test]
fn settings_are_read_changed_and_saved_and_bad_changes_refused() {
    let t = app();
    let view = invoke(&t.window, "settings", json!({})).unwrap();
    assert_eq!(view["theme"], "system");
    assert_eq!(view["notifications"], true);
    assert_eq!(view["notifications_paused_until"], Value::Null);
    assert!(view["start_at_login"].is_boolean() || !view["problems"].as_array().unwrap().is_empty(), "{view}");

    let view = invoke(
        &t.window,
        "update_settings",
        json!({ "patch": { "theme": "dark", "quick_actions": false, "notifications_paused": true } }),
    )
    .unwrap();
    assert_eq!(view["theme"], "dark");
    assert_eq!(view["quick_actions"], false);
    assert!(view["notifications_paused_until"].as_u64().unwrap() > crate::shell::now(), "{view}");
    let saved: Value =
        serde_json::from_slice(&std::fs::read(t.dir.path().join("data").join(crate::settings::FILE_NAME)).unwrap())
            .unwrap();
    assert_eq!(saved, json!({ "theme": "dark", "notifications": true, "quick_actions": false }));

    let error = invoke(&t.window, "update_settings", json!({ "patch": { "theme": "purple" } })).unwrap_err();
    assert!(error.as_str().is_some_and(|e| e.contains("purple")), "a refused argument names the value: {error}");
    assert_eq!(invoke(&t.window, "settings", json!({})).unwrap()["theme"], "dark", "unchanged by a refused patch");
}

#[test]
fn qr_images_are_sent_raw_and_refused_clearly() {
    let t = app();
    let raw = |bytes: Vec<u8>| invoke_body(&t.window, "decode_qr_image", InvokeBody::Raw(bytes));
    let png = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/approver/testdata/qr/app-uri.png"))
        .expect("the approver's QR test vector");
    let link = raw(png).unwrap();
    assert!(link.as_str().unwrap().starts_with("countersign://enroll?"), "{link}");
    let error = raw(b"not an image".to_vec()).unwrap_err();
    assert_eq!(error["code"], "invalid_qr_image", "{error}");
    let error = raw(vec![0; 10 * 1024 * 1024 + 1]).unwrap_err();
    assert_eq!(error["code"], "invalid_qr_image", "{error}");
    // JSON instead of bytes is a caller bug, said as such.
    let error = invoke(&t.window, "decode_qr_image", json!({ "image": [1, 2] })).unwrap_err();
    assert_eq!(error["code"], "invalid");
}

/// The core's view of the protocol's example request with `details`, at
/// `risk`, requiring nothing, from a verified agent asking for `openid`.
fn notified_view(details: Value, risk: &str) -> countersign_approver::RequestView {
    use countersign_approver::store::{InboxItem, LocalStatus};
    use countersign_protocol::device::ApproverRequest;
    let text = include_str!("../crates/protocol/testdata/device/examples/approver-request.json");
    let mut value: Value = serde_json::from_str(text).unwrap();
    value["authorization_details"] = details;
    value["risk"] = json!(risk);
    value["requires"] = json!([]);
    value["scope"] = json!(["openid"]);
    // No API named (a notification does not show one).
    value.as_object_mut().unwrap().remove("audience");
    let request: ApproverRequest = serde_json::from_value(value).unwrap();
    let registry = countersign_details::Registry::builtin().unwrap();
    let options = ApproverConfig::new(std::path::PathBuf::new()).render;
    let display = countersign_approver::display::render(&request, &registry, &options);
    let item = InboxItem {
        account_id: "a".into(),
        request_json: String::new(),
        request,
        status: LocalStatus::Pending,
        status_reason: None,
        received_at: 0,
        updated_at: 0,
    };
    countersign_approver::RequestView::build(item, display, 0)
}

/// The notification of one request as the shell builds it from the core's
/// verdict.
fn notification(view: &countersign_approver::RequestView, quick_actions: bool) -> crate::notify::Message {
    use crate::notify::{message, Pending, Rendered};
    let quick = countersign_approver::quick_decision(view, &Default::default()).ok();
    let rendered = Rendered::of(view, quick, quick_actions);
    message(&[Pending::of(&view.item)], Some(&rendered)).unwrap()
}

#[test]
fn a_notification_offers_approve_only_with_the_cores_text_whole() {
    let calendar = json!([{"type":"urn:countersign:details:v1:calendar_event","action":"create","title":"Dentist","start":"2026-12-03T09:30:00Z","location":"Room <2>"}]);
    let view = notified_view(calendar.clone(), "low");
    let text = countersign_approver::quick_decision(&view, &Default::default()).unwrap();
    let m = notification(&view, true);
    assert!(m.quick.is_some(), "eligible: Approve and Deny are offered");
    assert_eq!(m.summary, text.title);
    assert_eq!(m.body, crate::notify::markup_escape(&text.body()), "exactly the core's text");
    assert!(m.body.contains("Location: Room &lt;2&gt;"), "a field outside the summary line is shown: {}", m.body);

    // The user's setting, and each of the issue's cases, take the buttons away.
    assert!(notification(&view, false).quick.is_none(), "quick actions off");
    let mut unverified = view.clone();
    unverified.item.request.client.verified = false;
    let m = notification(&unverified, true);
    assert!(m.quick.is_none() && m.summary.contains("(not verified)"), "{m:?}");
    let mut scoped = view.clone();
    scoped.item.request.scope = vec!["openid".into(), "payments:write".into()];
    assert!(notification(&scoped, true).quick.is_none(), "a scope beyond openid");
    let mut long = calendar;
    long[0]["location"] = json!("L".repeat(150));
    let long = notified_view(long, "low");
    assert!(long.approvable && long.display.warning_count == 0, "{:?}", long.display.warnings);
    assert!(notification(&long, true).quick.is_none(), "a field the notification would cut");
    assert!(notification(&notified_view(json!([{"type":"urn:countersign:details:v1:calendar_event","action":"create","title":"Dentist","start":"2026-12-03T09:30:00Z"}]), "medium"), true).quick.is_none());
}

/// Issue 19, item 2: a notification marks a request with warnings by their
/// count and the worst kind, from the core's rendering (a lookalike letter,
/// a TAB in a multi-line field).
#[test]
fn a_notification_of_a_request_with_warnings_names_how_many_and_the_worst_kind() {
    let email = json!([{"type":"urn:countersign:details:v1:send_email","to":["bob@example.org"],
        "subject":"Invoice from p\u{0430}ypal.com","body_preview":"Total:\t10 EUR"}]);
    let m = notification(&notified_view(email, "low"), true);
    assert!(m.quick.is_none());
    assert!(m.body.starts_with("2 warnings (danger: lookalike letters): open Countersign to review\n"), "{}", m.body);
    assert!(!m.body.contains("p\u{0430}ypal"), "the summary line is not shown: {}", m.body);
    let tab = json!([{"type":"urn:countersign:details:v1:send_email","to":["bob@example.org"],
        "subject":"Minutes","body_preview":"Total:\t10 EUR"}]);
    let m = notification(&notified_view(tab, "low"), true);
    assert!(m.body.starts_with("1 warning (caution: unusual spaces or tabs)"), "{}", m.body);
}

/// Pretty JSON with every non-ASCII character escaped (no invisible or bidi
/// characters in the repository's files).
pub(crate) fn ascii_json(value: &Value) -> String {
    let mut out = String::new();
    for c in serde_json::to_string_pretty(value).unwrap().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out + "\n"
}

#[test]
fn ui_fixture_models_are_what_the_details_crate_renders() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/tests/models");
    let registry = countersign_details::Registry::builtin().unwrap();
    let update = std::env::var_os("UPDATE_UI_FIXTURES").is_some();
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".details.json")) else {
            continue;
        };
        let details =
            countersign_protocol::rar::AuthorizationDetails::from_param(&std::fs::read_to_string(&path).unwrap())
                .unwrap();
        let model = serde_json::to_value(registry.render(&details, &Default::default())).unwrap();
        let model_path = dir.join(format!("{name}.model.json"));
        if update {
            std::fs::write(&model_path, ascii_json(&model)).unwrap();
        }
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&model_path).unwrap()).unwrap();
        assert!(fixture == model, "{} is stale: rerun with UPDATE_UI_FIXTURES=1", model_path.display());
        checked += 1;
    }
    assert!(checked >= 4, "expected the UI's fixture models in {}", dir.display());
}

// ---------------------------------------------------------------------------
// The key file's passphrase, asked in the window.
// ---------------------------------------------------------------------------

/// An app whose keys go to the encrypted file, with no passphrase source
/// configured: the shell's window prompt is the source.
fn file_key_app(dir: &Path) -> (tauri::App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let mut config = ApproverConfig::new(dir.join("data"));
    config.key_store = KeyStoreChoice::File;
    config.device_name = "desktop test".into();
    let shell = tauri::async_runtime::block_on(Shell::open(Ok(config), dir.join("exports")));
    let app = mock_app(shell, dir);
    crate::events::ask_passphrase_in_the_window(app.handle());
    let window = main_window(&app);
    (app, window)
}

/// `unverified_block` of `account_id` invoked on a thread, once the key
/// file asked the window for its passphrase ("open") to answer it.
fn unverified_block_awaiting_passphrase(
    window: &WebviewWindow<MockRuntime>,
    account_id: &str,
) -> std::thread::JoinHandle<Result<Value, Value>> {
    let w = window.clone();
    let id = account_id.to_owned();
    let block = std::thread::spawn(move || invoke(&w, "unverified_block", json!({ "account_id": id })));
    wait_for_passphrase_request(window, "open");
    block
}

/// Waits until `app_status` says the key file waits for `purpose`.
fn wait_for_passphrase_request(window: &WebviewWindow<MockRuntime>, purpose: &str) {
    wait_until(
        "the key file never asked for its passphrase",
        || invoke(window, "app_status", json!({})).unwrap(),
        |status| status["passphrase_needed"] == purpose,
    );
}

/// Every file under `dir`, read whole.
fn files_under(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

const STRONG: &str = "walrus quietly orbits saffron";

#[test]
fn the_key_file_passphrase_is_asked_in_the_window_checked_and_kept_in_memory_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = tauri::async_runtime::block_on(Server::start());
    let (app, window) = file_key_app(dir.path());
    assert_eq!(invoke(&window, "app_status", json!({})).unwrap()["passphrase_needed"], Value::Null);

    // Enrolling creates the key file: the enrollment waits for a new passphrase.
    let link = tauri::async_runtime::block_on(server.enrollment_link());
    let w = window.clone();
    let enroll = std::thread::spawn(move || invoke(&w, "enroll", json!({ "link": link })));
    wait_for_passphrase_request(&window, "create");
    for (weak, why) in [("short", "at least 12 characters"), ("password1234", "too easy to guess")] {
        let error = invoke(&window, "submit_key_passphrase", json!({ "passphrase": weak })).unwrap_err();
        assert_eq!(error["code"], "weak_passphrase", "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(why) && !message.contains(weak), "the reason, never the passphrase: {error}");
    }
    assert_eq!(invoke(&window, "app_status", json!({})).unwrap()["passphrase_needed"], "create", "still waiting");
    let answer = invoke(&window, "submit_key_passphrase", json!({ "passphrase": STRONG })).unwrap();
    assert_eq!(answer, json!("create"), "the answer never echoes the passphrase");
    let outcome = enroll.join().unwrap().unwrap();
    assert_eq!(outcome["account"]["key_store"], "file");
    let account_id = outcome["account"]["id"].as_str().unwrap().to_owned();
    assert_eq!(invoke(&window, "app_status", json!({})).unwrap()["passphrase_needed"], Value::Null);
    let status = invoke(&window, "app_status", json!({})).unwrap();
    assert!(status["key_store_warning"].as_str().unwrap().contains("passphrase-encrypted"), "{status}");
    // Nothing on disk holds it (key file, store, settings).
    for (path, bytes) in files_under(dir.path()) {
        assert!(
            !bytes.windows(STRONG.len()).any(|w| w == STRONG.as_bytes()),
            "{} holds the passphrase",
            path.display()
        );
    }
    drop(app);

    // The next start opens the file: a wrong passphrase is refused and the
    // app keeps asking (nothing locks); the right one opens it.
    let (_app, window) = file_key_app(dir.path());
    // The warning is there from the start, before any key is used (the
    // window asks for it when it opens).
    let status = invoke(&window, "app_status", json!({})).unwrap();
    assert!(status["key_store_warning"].as_str().unwrap().contains("passphrase-encrypted"), "{status}");
    let block = unverified_block_awaiting_passphrase(&window, &account_id);
    let error =
        invoke(&window, "submit_key_passphrase", json!({ "passphrase": "walrus quietly orbits cumin" })).unwrap_err();
    assert_eq!(error["code"], "wrong_passphrase", "{error}");
    assert_eq!(invoke(&window, "app_status", json!({})).unwrap()["passphrase_needed"], "open", "asks again");
    assert_eq!(invoke(&window, "submit_key_passphrase", json!({ "passphrase": STRONG })).unwrap(), json!("open"));
    assert_eq!(block.join().unwrap().unwrap()["blocked"], false);
    drop(_app);

    // Closing the window's prompt fails only the waiting operation; the
    // next one asks again.
    let (_app, window) = file_key_app(dir.path());
    let block = unverified_block_awaiting_passphrase(&window, &account_id);
    invoke(&window, "cancel_key_passphrase", json!({})).unwrap();
    let error = block.join().unwrap().unwrap_err();
    assert_eq!(error["code"], "key_store", "{error}");
    assert!(error["message"].as_str().unwrap().contains("no passphrase was entered"), "{error}");
    let block = unverified_block_awaiting_passphrase(&window, &account_id);
    invoke(&window, "submit_key_passphrase", json!({ "passphrase": STRONG })).unwrap();
    assert_eq!(block.join().unwrap().unwrap()["blocked"], false);
    tauri::async_runtime::block_on(server.server.stop());
}

#[test]
fn the_user_sees_and_lifts_the_block_of_unverified_agents() {
    let t = app();
    let server = tauri::async_runtime::block_on(Server::start());
    let link = tauri::async_runtime::block_on(server.enrollment_link());
    let account = invoke(&t.window, "enroll", json!({ "link": link })).unwrap()["account"].clone();
    let account_id = account["id"].as_str().unwrap().to_owned();
    let state = invoke(&t.window, "unverified_block", json!({ "account_id": account_id })).unwrap();
    assert_eq!(state, json!({ "blocked": false }));

    // Three requests of an unverified agent denied as "not me" start the block.
    let agent = tauri::async_runtime::block_on(server.agent("Unknown Agent", &[DETAIL_TYPE]));
    for n in 0..3 {
        tauri::async_runtime::block_on(server.request(&agent, DETAILS, &format!("SPAM-{n}"), "openid"));
    }
    let shell = t.window.state::<Shell>();
    tauri::async_runtime::block_on(shell.approver().unwrap().sync(&account_id)).unwrap();
    for view in invoke(&t.window, "inbox_views", json!({})).unwrap().as_array().unwrap() {
        let request_id = view["item"]["request"]["id"].as_str().unwrap();
        decide(&t.window, "deny", &account_id, request_id, json!({ "reason": "not_me" })).unwrap();
    }
    let state = invoke(&t.window, "unverified_block", json!({ "account_id": account_id })).unwrap();
    assert_eq!(state["blocked"], true, "{state}");
    assert!(state["since"].as_u64().is_some(), "{state}");

    let lifted = invoke(&t.window, "lift_unverified_block", json!({ "account_id": account_id })).unwrap();
    assert_eq!(lifted, json!({ "blocked": false }));
    assert_eq!(invoke(&t.window, "unverified_block", json!({ "account_id": account_id })).unwrap()["blocked"], false);
    let error = invoke(&t.window, "lift_unverified_block", json!({ "account_id": "acct_nope" })).unwrap_err();
    assert_eq!(error["code"], "unknown_account", "{error}");
    tauri::async_runtime::block_on(server.server.stop());
}
