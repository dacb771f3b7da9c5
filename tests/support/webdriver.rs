//! Drives the real app through WebDriver: `tauri-driver` starts the app and
//! bridges to WebKitWebDriver. Needs a display (the xtask gives it Xvfb).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

use super::driver::{capabilities, start_tauri_driver, Patience};

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
        let driver_path = std::env::var_os("TAURI_DRIVER").map(PathBuf::from).unwrap_or_else(|| "tauri-driver".into());
        let patience = Patience { within: Duration::from_secs(20), every: Duration::from_millis(100) };
        let (driver, port) = start_tauri_driver(&driver_path, env.iter().copied(), Stdio::inherit(), patience);

        let client = ClientBuilder::native()
            .capabilities(capabilities(serde_json::json!({ "application": app, "args": args })))
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

    /// Clicks the element with `data-testid` (waiting for it) after
    /// scrolling it to the middle of the window: an element at the window's
    /// edge (the decision buttons under a long request) may otherwise take
    /// no click.
    pub async fn click_centered(&self, test_id: &str) {
        let element = self.element(test_id).await;
        let script = "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})";
        self.client
            .execute(script, vec![format!("[data-testid=\"{test_id}\"]").into()])
            .await
            .unwrap_or_else(|e| panic!("scroll to {test_id}: {e}"));
        element.click().await.unwrap_or_else(|e| panic!("click on {test_id}: {e}"));
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

    /// The processes the app runs under this session: tauri-driver's
    /// descendants (WebKitWebDriver, the app, its WebKit processes).
    pub fn processes(&self) -> Vec<Process> {
        descendants(self.driver.id())
    }

    /// The app's WebKit web content processes (normally one).
    pub fn web_processes(&self) -> Vec<u32> {
        self.processes().into_iter().filter(|p| p.name == "WebKitWebProces").map(|p| p.pid).collect()
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

/// Opens the request of an inbox card: clicks the card's review button.
pub async fn open_card(card: &Element) {
    let review =
        card.find(Locator::Css("[data-testid=\"inbox-open\"]")).await.unwrap_or_else(|e| panic!("review button: {e}"));
    review.click().await.unwrap_or_else(|e| panic!("open the request: {e}"));
}

/// A process: its id, parent and name (`/proc/<pid>/stat`, at most 15 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub parent: u32,
    pub name: String,
}

fn all_processes() -> Vec<Process> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (name) state ppid ...": the name may hold spaces and parentheses.
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let name = stat[open + 1..close].to_owned();
        let parent = stat[close + 1..].split_whitespace().nth(1)?.parse().ok()?;
        Some(Process { pid, parent, name })
    })
    .collect()
}

/// Every live descendant of `root`.
pub fn descendants(root: u32) -> Vec<Process> {
    let all = all_processes();
    let mut found: Vec<Process> = Vec::new();
    let mut parents = vec![root];
    while let Some(parent) = parents.pop() {
        for p in all.iter().filter(|p| p.parent == parent) {
            parents.push(p.pid);
            found.push(p.clone());
        }
    }
    found
}
