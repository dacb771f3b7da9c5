//! End-to-end tests of the real desktop app window (WebKitGTK under Xvfb,
//! driven through tauri-driver). Run by `cargo xtask test`, which provides the
//! display, a private D-Bus session and tauri-driver.

mod support;

use std::path::PathBuf;

use support::webdriver::AppSession;

fn app_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_countersign"))
}

#[tokio::test]
#[ignore = "needs a display and tauri-driver: run by `cargo xtask test`"]
async fn window_shows_product_name_and_empty_inbox() {
    let session = AppSession::start(app_binary()).await;

    // The empty state appears only after the UI's IPC call to the Rust side
    // (`pending_requests`) has answered, so this checks the whole path:
    // binary → embedded UI → capability-gated command → rendered state.
    let empty = session.text_of("inbox-empty").await;
    assert!(empty.contains("No requests waiting"), "empty inbox text was {empty:?}");

    let heading = session.text_of("app-title").await;
    assert_eq!(heading, "Countersign");

    let title = session.client.title().await.expect("window title");
    assert_eq!(title, "Countersign");

    // Neither the loading nor the error state may remain on screen.
    let source = session.client.source().await.expect("page source");
    assert!(!source.contains("data-testid=\"inbox-error\""), "the inbox shows an error: {source}");
    assert!(!source.contains("data-testid=\"inbox-loading\""), "the inbox is still loading");

    session.close().await;
}
