//! Drives the real app through WebDriver: `tauri-driver` starts the app and
//! bridges to WebKitWebDriver. Needs a display (the xtask gives it Xvfb).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

/// How long a cold WebKit start plus the first IPC round trip may take on a
/// loaded 2-core machine before we call it a failure.
pub const UI_TIMEOUT: Duration = Duration::from_secs(60);

/// A running tauri-driver and a WebDriver session on the app.
pub struct AppSession {
    pub client: Client,
    driver: Child,
}

impl AppSession {
    /// Starts tauri-driver on free ports and opens a session on `app`. The
    /// app inherits `env` (through tauri-driver and WebKitWebDriver).
    pub async fn start(app: PathBuf, env: &[(&str, &Path)]) -> AppSession {
        Self::start_with_args(app, env, &[]).await
    }

    /// Like `start`, with command-line arguments for the app.
    pub async fn start_with_args(app: PathBuf, env: &[(&str, &Path)], args: &[&str]) -> AppSession {
        let port = free_port();
        let native_port = free_port();
        let driver_path = std::env::var_os("TAURI_DRIVER").map(PathBuf::from).unwrap_or_else(|| "tauri-driver".into());
        let mut command = Command::new(&driver_path);
        command
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let driver = command.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_path.display()));
        wait_for_port(port);

        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), "wry".into());
        capabilities.insert("tauri:options".into(), serde_json::json!({ "application": app, "args": args }));
        let client = ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("WebDriver session on the app");
        AppSession { client, driver }
    }

    /// Waits for the element with `data-testid`.
    pub async fn element(&self, test_id: &str) -> Element {
        self.css(&format!("[data-testid=\"{test_id}\"]")).await
    }

    /// Waits for the element matching `selector`.
    pub async fn css(&self, selector: &str) -> Element {
        self.client
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("{selector} did not appear: {e}"))
    }

    /// Waits for the element with `data-testid` and returns its text.
    pub async fn text_of(&self, test_id: &str) -> String {
        self.element(test_id).await.text().await.expect("element text")
    }

    /// Clicks the element with `data-testid` (waiting for it).
    pub async fn click(&self, test_id: &str) {
        self.element(test_id).await.click().await.unwrap_or_else(|e| panic!("click on {test_id}: {e}"));
    }

    /// Waits until `selector` matches `count` elements.
    pub async fn wait_count(&self, selector: &str, count: usize) -> Vec<Element> {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            let found = self.client.find_all(Locator::Css(selector)).await.unwrap_or_default();
            if found.len() == count {
                return found;
            }
            assert!(Instant::now() < deadline, "expected {count} × {selector}, found {}", found.len());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the text of `test_id` satisfies `pred`; returns it.
    pub async fn wait_text(&self, test_id: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            let text = self.text_of(test_id).await;
            if pred(&text) {
                return text;
            }
            assert!(Instant::now() < deadline, "{test_id} never matched; last text {text:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for AppSession {
    fn drop(&mut self) {
        // A failing test must not leave the driver (and the app) running.
        let _ = self.driver.kill();
    }
}

/// Saves what the X server shows of the app's window (WebDriver screenshots
/// can show a stale frame): `import -window <id>` as `cargo xtask demo` does,
/// on the largest X window titled "Countersign" (GTK makes smaller ones too).
pub fn screenshot(path: &Path) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("screenshot directory");
    }
    let script = r#"set -eu
window=$(xwininfo -root -tree | awk '/"Countersign":/ {
  for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+x[0-9]+[+-]/) {
    split($i, g, /[x+-]/); if (g[1] * g[2] > best) { best = g[1] * g[2]; id = $1 }
  } } END { print id }')
test -n "$window"
import -window "$window" "$SHOT""#;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // Let WebKit paint the last change before the X server is read.
        std::thread::sleep(Duration::from_millis(800));
        let status = Command::new("sh").args(["-c", script]).env("SHOT", path).status().expect("run import");
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if status.success() && size > 1000 {
            return;
        }
        assert!(Instant::now() < deadline, "screenshot {} failed ({status}, {size} bytes)", path.display());
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn wait_for_port(port: u16) {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "tauri-driver did not listen on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
