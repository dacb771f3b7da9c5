//! Soak test of the real desktop window (issue 19, item 8): minutes of
//! requests arriving, opened, scrolled through, captured and decided through
//! WebDriver (WebKitGTK under Xvfb, as in `tests/e2e.rs`), against a real
//! `countersign-server`. The window must keep working and its web content
//! process must never die (nor be replaced by a reload). Run by
//! `cargo xtask test` (about three and a half minutes);
//! `COUNTERSIGN_SOAK_SECS` changes the length of the load (default 200).

mod support;

use std::time::{Duration, Instant};

use support::app::{enroll_through_the_ui, AppDirs};
use support::server::Server;
use support::webdriver::open_card;

const PURCHASE_TYPE: &str = "urn:countersign:details:v1:purchase";
const EMAIL_TYPE: &str = "urn:countersign:details:v1:send_email";
const CALENDAR_TYPE: &str = "urn:countersign:details:v1:calendar_event";
const AUTH0_TYPE: &str = "urn:auth0:schemas:authorization-details:v1:money-transfer";

/// What the agent sends in turn: ordinary requests and hostile ones (bidi
/// overrides, lookalike letters, control, invisible and TAB characters, long
/// values and lists, an Auth0 description that reverses what it says).
fn corpus() -> Vec<String> {
    let long = "Lorem ipsum dolor sit amet ".repeat(60);
    let recipients: Vec<String> = (0..90).map(|i| format!("a{i}@example.org")).collect();
    vec![
        serde_json::json!([{"type": CALENDAR_TYPE, "action": "create", "title": "Dentist",
            "start": "2026-12-03T09:30:00Z", "duration": "PT45M"}]),
        serde_json::json!([{"type": EMAIL_TYPE, "to": ["bob@example.org"], "subject": "Hello \u{202E}evil\u{202C} x",
            "body_preview": "Hi Bob,\n\tsee the p\u{0430}ypal.com invoice\r\n"}]),
        serde_json::json!([{"type": PURCHASE_TYPE,
            "merchant": {"name": "Example Outdoor Supply", "url": "https://shop.example.com"},
            "items": [{"description": "Trail shoes \u{202E}34 ezis", "quantity": 1,
                       "unit_price": {"amount": "129.90", "currency": "EUR"}}],
            "total": {"amount": "129.90", "currency": "EUR"}}]),
        serde_json::json!([{"type": EMAIL_TYPE, "to": ["ann@example.org"],
            "subject": "cr\roverwrite \u{200B}zero width", "body_preview": long}]),
        serde_json::json!([{"type": AUTH0_TYPE, "instruction": "Transfer 10 EUR to p\u{0430}ypal.com",
            "properties": {"amount": {"display": true, "name": "Amount", "display_order": 1, "value": "10.00 EUR",
                                      "description": "\u{202E}serahs LPAA 01 yuB"}}}]),
        serde_json::json!([{"type": EMAIL_TYPE, "to": recipients, "subject": "Many recipients \u{1B}[2K",
            "body_preview": "y".repeat(3900)}]),
    ]
    .into_iter()
    .map(|v| v.to_string())
    .collect()
}

fn soak_duration() -> Duration {
    let secs = std::env::var("COUNTERSIGN_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    Duration::from_secs(secs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display and tauri-driver, and takes minutes: run by `cargo xtask test`"]
async fn the_window_keeps_working_for_minutes_under_load() {
    let server = Server::start_unlimited().await;
    let (_dirs, session) = AppDirs::start_fresh().await;
    enroll_through_the_ui(&session, &server, None).await;
    session.click("nav-inbox").await;
    let web = session.web_processes();
    assert_eq!(web.len(), 1, "one web content process: {:?}", session.processes());
    // Without a GPU render node (Xvfb here) the app chose software rendering
    // before WebKit started: its web process inherited both switches.
    let render_node = std::fs::read_dir("/dev/dri")
        .map(|d| d.filter_map(Result::ok).any(|e| e.file_name().to_string_lossy().starts_with("renderD")))
        .unwrap_or(false);
    if !render_node {
        let environ = std::fs::read(format!("/proc/{}/environ", web[0])).expect("the web process's environment");
        let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
        for var in ["WEBKIT_DISABLE_DMABUF_RENDERER=1", "WEBKIT_DISABLE_COMPOSITING_MODE=1"] {
            assert!(vars.contains(&var.as_bytes()), "{var} not set for the web process: the GPU path was taken");
        }
    }

    let agent = server.agent("Soak Agent", &[PURCHASE_TYPE, EMAIL_TYPE, CALENDAR_TYPE, AUTH0_TYPE]).await;
    server.verify(&agent).await;
    let corpus = corpus();
    let started = Instant::now();
    let deadline = started + soak_duration();
    let mut round = 0;
    while Instant::now() < deadline {
        // Two requests arrive; the oldest is opened, scrolled through,
        // captured and denied: the inbox grows by one per round.
        for k in 0..2 {
            let n = round * 2 + k;
            server.request(&agent, &corpus[n % corpus.len()], &format!("SOAK-{n}"), "openid").await;
        }
        let items = session.wait_count("[data-testid=\"inbox-item\"]", round + 2).await;
        let oldest = items.last().expect("an inbox item");
        let id = oldest.attr("data-request-id").await.expect("attribute").expect("request id");
        let text = oldest.text().await.expect("inbox item text");
        assert!(text.contains("Soak Agent"), "round {round}: {text:?}");
        open_card(oldest).await;
        let detail = session.text_of("request-detail").await;
        assert!(detail.contains("SOAK-"), "round {round}: {detail:?}");
        for step in 0..=10 {
            let script = format!("window.scrollTo(0, document.body.scrollHeight * {step} / 10)");
            session.client.execute(&script, vec![]).await.expect("scroll");
        }
        let png = session.client.screenshot().await.expect("a WebDriver screenshot");
        assert!(png.len() > 1000, "round {round}: an empty screenshot");
        session.click_centered("deny").await;
        session.click_centered("deny-other").await;
        session.click_centered("confirm-deny").await;
        session.wait_text("announcement", |t| t.contains("Denied")).await;
        session.wait_count("[data-testid=\"request-detail\"]", 0).await;
        session.wait_count(&format!("[data-testid=\"inbox-item\"][data-request-id=\"{id}\"]"), 0).await;
        round += 1;
        assert_eq!(
            session.web_processes(),
            web,
            "round {round}, after {:?}: the web content process died or was replaced: {:?}",
            started.elapsed(),
            session.processes()
        );
    }
    eprintln!("soak: {round} rounds, {} requests, {round} denied, in {:?}", round * 2, started.elapsed());
    assert!(round >= 10, "too little load to mean anything: {round} rounds");
    session.close().await;
    server.server.stop().await;
}
