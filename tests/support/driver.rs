//! tauri-driver on free ports: the WebDriver end of the end-to-end tests
//! (`webdriver.rs`) and of the desktop benchmark (`benches/desktop.rs`
//! includes this file).

use std::ffi::OsStr;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

/// How long to wait for tauri-driver to listen, and how often to look.
pub struct Patience {
    pub within: Duration,
    pub every: Duration,
}

/// Starts `driver` (tauri-driver) on free ports, with `env` added to its
/// environment (the app it launches inherits it) and its standard error
/// going to `stderr`; returns it and its WebDriver port once it listens.
///
/// # Panics
/// If it cannot be started, or does not listen within `patience.within`.
pub fn start_tauri_driver<K: AsRef<OsStr>, V: AsRef<OsStr>>(
    driver: &Path,
    env: impl IntoIterator<Item = (K, V)>,
    stderr: Stdio,
    patience: Patience,
) -> (Child, u16) {
    let (port, native_port) = (free_port(), free_port());
    let mut command = Command::new(driver);
    command
        .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
        .stdout(Stdio::null())
        .stderr(stderr);
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", driver.display()));
    wait_for_port(port, &patience);
    (child, port)
}

/// The WebDriver capabilities that have tauri-driver launch the app as
/// `options` say (`{"application": ..., "args": [...]}`).
pub fn capabilities(options: Value) -> Map<String, Value> {
    let mut capabilities = Map::new();
    capabilities.insert("browserName".into(), "wry".into());
    capabilities.insert("tauri:options".into(), options);
    capabilities
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn wait_for_port(port: u16, patience: &Patience) {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + patience.within;
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "tauri-driver did not listen on port {port}");
        std::thread::sleep(patience.every);
    }
}
