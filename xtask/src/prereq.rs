//! Installing what the project needs, only when it is missing.

use std::path::PathBuf;
use std::process::Command;

use crate::shell::{exec, exec_command, on_path, step};

/// Debian packages needed to compile the desktop app (Tauri on WebKitGTK).
pub const BUILD_PACKAGES: &[&str] = &[
    "build-essential",
    "pkg-config",
    "file",
    "libwebkit2gtk-4.1-dev",
    "libssl-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libxdo-dev",
    "libdbus-1-dev",
];

/// Debian packages needed to run the app without a display and drive it.
pub const HEADLESS_PACKAGES: &[&str] =
    &["xvfb", "xauth", "x11-utils", "webkit2gtk-driver", "dbus", "dbus-x11", "at-spi2-core", "imagemagick", "dunst"];

/// Debian packages for the browser tests of the UI (playwright-core drives
/// Debian's chromium; no browser is ever downloaded).
pub const BROWSER_PACKAGES: &[&str] = &["chromium"];

/// Where the browser tests expect chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Installs everything the tests need; returns the tauri-driver to use.
pub fn all() -> Result<PathBuf, String> {
    system_packages(&[BUILD_PACKAGES, HEADLESS_PACKAGES, BROWSER_PACKAGES].concat())?;
    node()?;
    ui_packages()?;
    tauri_driver()
}

/// Installs the missing Debian packages through apt (with sudo when not root).
pub fn system_packages(packages: &[&str]) -> Result<(), String> {
    step("System packages");
    if !PathBuf::from("/etc/debian_version").exists() {
        println!("    not Debian/Ubuntu: make sure these are installed: {}", packages.join(" "));
        return Ok(());
    }
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !dpkg_installed(p)).collect();
    if missing.is_empty() {
        println!("    all {} present", packages.len());
        return Ok(());
    }
    println!("    installing {}", missing.join(" "));
    let as_root = is_root();
    let apt = |args: &[&str]| -> Result<(), String> {
        let mut command = if as_root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        exec_command(&mut command)
    };
    apt(&["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&missing);
    apt(&args)
}

fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0").unwrap_or(false)
}

/// Node.js 20 or newer is needed for the UI toolchain (Vite).
pub fn node() -> Result<(), String> {
    step("Node.js");
    let output = Command::new("node").arg("--version").output().map_err(|_| {
        "Node.js is not installed: install Node.js 20 or newer (for example from NodeSource or nvm), then rerun"
            .to_string()
    })?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let major: u32 = version.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < 20 {
        return Err(format!("Node.js {version} is too old: the UI needs Node.js 20 or newer"));
    }
    println!("    node {version}");
    Ok(())
}

/// `npm ci` when ui/node_modules is missing or older than the lock file.
pub fn ui_packages() -> Result<(), String> {
    step("UI packages");
    let ui = crate::root().join("ui");
    let lock = ui.join("package-lock.json");
    let installed = ui.join("node_modules/.package-lock.json");
    let modified = |path: &PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let fresh = match (modified(&lock), modified(&installed)) {
        (Some(lock), Some(installed)) => installed >= lock,
        _ => false,
    };
    if fresh {
        println!("    ui/node_modules is up to date");
        return Ok(());
    }
    exec(&ui, "npm", &["ci", "--no-audit", "--no-fund"])
}

/// Builds ui/dist, which the app embeds (cargo needs it before compiling).
pub fn build_ui() -> Result<(), String> {
    step("Build the UI (ui/dist)");
    exec(&crate::root().join("ui"), "npm", &["run", "build"])
}

/// Finds tauri-driver (the WebDriver bridge), installing it if missing.
pub fn tauri_driver() -> Result<PathBuf, String> {
    step("tauri-driver");
    if let Some(found) = find_tauri_driver() {
        println!("    {}", found.display());
        return Ok(found);
    }
    exec(&crate::root(), "cargo", &["install", "tauri-driver", "--version", "^2", "--locked"])?;
    find_tauri_driver().ok_or_else(|| "tauri-driver was installed but is not on PATH or in ~/.cargo/bin".to_string())
}

pub fn find_tauri_driver() -> Option<PathBuf> {
    if on_path("tauri-driver") {
        return Some(PathBuf::from("tauri-driver"));
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))?;
    let candidate = cargo_home.join("bin/tauri-driver");
    candidate.is_file().then_some(candidate)
}
