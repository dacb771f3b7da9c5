//! Installing what the project needs, only when it is missing.
//!
//! What to install comes from the table in `programs.rs`: the programs each
//! part of the work runs, where each comes from, and the library packages.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::programs::{self, Need, Program, Provider};
use crate::shell::{exec, exec_command, on_path, step};

/// Where the browser tests expect chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Installs everything the tests need.
pub fn all() -> Result<(), String> {
    install(programs::TEST)?;
    ui_packages()
}

/// Installs what `needs` calls for and is missing: Debian packages through
/// apt (with sudo when not root), then the tools installed with cargo. Fails
/// naming each program still missing and where it comes from.
pub fn install(needs: &[Need]) -> Result<(), String> {
    system_packages(needs)?;
    if programs::needed(needs).any(|program| program.provider == Provider::NodeJs) {
        node()?;
    }
    cargo_tools(needs)?;
    check(needs)
}

/// Fails, before anything runs, naming each program (and library package)
/// `needs` calls for that is not here, and where it comes from.
pub fn check(needs: &[Need]) -> Result<(), String> {
    step("Programs and libraries");
    let missing = missing(needs);
    if !missing.is_empty() {
        return Err(report(&missing));
    }
    println!("    all present");
    Ok(())
}

/// Something `needs` calls for that is not here.
enum Missing {
    Program(&'static Program),
    Library(&'static str),
}

impl Missing {
    /// The Debian package that brings it, when there is one.
    fn debian_package(&self) -> Option<&'static str> {
        match self {
            Missing::Program(Program { provider: Provider::Debian(package), .. }) => Some(package),
            Missing::Program(_) => None,
            Missing::Library(package) => Some(package),
        }
    }

    fn describe(&self) -> String {
        match self {
            Missing::Program(program) => program.describe(),
            Missing::Library(package) => format!("library package {package}"),
        }
    }
}

/// The programs `needs` calls for that are not here, then the library
/// packages not installed (only Debian can tell).
fn missing(needs: &[Need]) -> Vec<Missing> {
    let debian = is_debian();
    let programs = programs::needed(needs).filter(|program| !present(program)).map(Missing::Program);
    let libraries = programs::libraries(needs).filter(|package| debian && !dpkg_installed(package));
    programs.chain(libraries.map(Missing::Library)).collect()
}

fn report(missing: &[Missing]) -> String {
    let lines: Vec<String> = missing.iter().map(|item| format!("  - {}", item.describe())).collect();
    format!("missing:\n{}", lines.join("\n"))
}

fn present(program: &Program) -> bool {
    match program.provider {
        Provider::CargoInstall(_) => cargo_tool(program.name).is_some(),
        _ => on_path(program.name),
    }
}

/// Installs the Debian packages of what `needs` calls for and is missing.
fn system_packages(needs: &[Need]) -> Result<(), String> {
    step("System packages");
    if !is_debian() {
        let libraries: Vec<&str> = programs::libraries(needs).collect();
        println!("    not Debian/Ubuntu: make sure these libraries are installed: {}", libraries.join(" "));
    }
    let mut packages: Vec<&str> = Vec::new();
    for package in missing(needs).iter().filter_map(Missing::debian_package) {
        if !packages.contains(&package) {
            packages.push(package);
        }
    }
    if packages.is_empty() {
        println!("    all present");
        return Ok(());
    }
    apt_install(&packages).map_err(|why| format!("{why}\n{}", report(&missing(needs))))
}

/// `apt-get install`s `packages`, with sudo when not root.
fn apt_install(packages: &[&str]) -> Result<(), String> {
    if !is_debian() {
        return Err(format!("not Debian/Ubuntu: xtask cannot install {}", packages.join(" ")));
    }
    let as_root = is_root();
    if !as_root && !on_path("sudo") {
        return Err(format!(
            "not root, and no {}: as root, run `apt-get install {}`",
            programs::describe("sudo"),
            packages.join(" ")
        ));
    }
    println!("    installing {}", packages.join(" "));
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
    apt(&[&["install", "-y", "-qq", "--no-install-recommends"], packages].concat())
}

fn is_debian() -> bool {
    Path::new("/etc/debian_version").exists()
}

fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0").unwrap_or(false)
}

/// Node.js 20 or newer is needed for the UI toolchain (Vite).
pub fn node() -> Result<(), String> {
    step("Node.js");
    let output = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|_| format!("missing: {}; install it, then rerun", programs::describe("node")))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let major: u32 = version.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < 20 {
        return Err(format!("Node.js {version} is too old: the UI needs Node.js 20 or newer"));
    }
    println!("    node {version}");
    Ok(())
}

/// `cargo install`s the tools `needs` calls for that are missing.
fn cargo_tools(needs: &[Need]) -> Result<(), String> {
    for program in programs::needed(needs) {
        let Provider::CargoInstall(args) = program.provider else { continue };
        step(program.name);
        match cargo_tool(program.name) {
            Some(found) => println!("    {}", found.display()),
            None => exec(&crate::root(), "cargo", &[&["install"], args].concat())?,
        }
    }
    Ok(())
}

/// `npm ci` when ui/node_modules is missing or older than the lock file.
pub fn ui_packages() -> Result<(), String> {
    step("UI packages");
    npm_packages(&crate::root().join("ui"))
}

/// `npm ci` in `dir` when its node_modules is missing or older than its lock file.
pub fn npm_packages(dir: &std::path::Path) -> Result<(), String> {
    let ui = dir.to_path_buf();
    let lock = ui.join("package-lock.json");
    let installed = ui.join("node_modules/.package-lock.json");
    let modified = |path: &PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let fresh = match (modified(&lock), modified(&installed)) {
        (Some(lock), Some(installed)) => installed >= lock,
        _ => false,
    };
    if fresh {
        println!("    {}/node_modules is up to date", ui.display());
        return Ok(());
    }
    exec(&ui, "npm", &["ci", "--no-audit", "--no-fund"])
}

/// The Python virtual environment `dir/.venv` with the packages of
/// `dir/requirements.txt`, which pins each one and is complete (installed
/// with `--no-deps`, then `pip check`ed). Made anew (`--clear`) unless its
/// python is there and its last install, finished, was of these
/// requirements: a half-made one (Debian's python3 without python3-venv
/// leaves one) or an older set is not mended in place.
pub fn python_packages(dir: &Path) -> Result<(), String> {
    let venv = dir.join(".venv");
    let python = venv.join("bin/python");
    let listed = dir.join("requirements.txt");
    let requirements = std::fs::read(&listed).map_err(|e| format!("{}: {e}", listed.display()))?;
    let installed = venv.join("installed-requirements.txt");
    if python.is_file() && std::fs::read(&installed).is_ok_and(|done| done == requirements) {
        println!("    {} is up to date", venv.display());
        return Ok(());
    }
    exec(dir, "python3", &["-m", "venv", "--clear", ".venv"])?;
    let python = python.to_str().ok_or_else(|| format!("{}: not UTF-8", python.display()))?;
    let pip = ["-m", "pip", "--disable-pip-version-check", "--no-input"];
    exec(dir, python, &[&pip[..], &["install", "--no-deps", "-r", "requirements.txt"]].concat())?;
    exec(dir, python, &[&pip[..], &["check"]].concat())?;
    std::fs::write(&installed, &requirements).map_err(|e| format!("{}: {e}", installed.display()))
}

/// Builds ui/dist, which the app embeds (cargo needs it before compiling).
pub fn build_ui() -> Result<(), String> {
    step("Build the UI (ui/dist)");
    exec(&crate::root().join("ui"), "npm", &["run", "build"])
}

/// The tauri-driver (the WebDriver bridge) that `install` put in place.
pub fn tauri_driver() -> Result<PathBuf, String> {
    cargo_tool("tauri-driver")
        .ok_or_else(|| format!("missing: {}; run without --skip-install", programs::describe("tauri-driver")))
}

/// A tool installed with cargo: on PATH, or in cargo's own bin directory
/// (which a fresh rustup install does not always put on PATH).
fn cargo_tool(name: &str) -> Option<PathBuf> {
    if on_path(name) {
        return Some(PathBuf::from(name));
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))?;
    let candidate = cargo_home.join("bin").join(name);
    candidate.is_file().then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(name: &str) -> &'static Program {
        programs::PROGRAMS.iter().find(|program| program.name == name).expect("in the table")
    }

    #[test]
    fn the_error_names_each_missing_program_with_where_it_comes_from() {
        let missing = [
            Missing::Program(program("gnome-keyring-daemon")),
            Missing::Program(program("node")),
            Missing::Library("libssl-dev"),
        ];
        let text = report(&missing);
        assert!(text.contains("  - gnome-keyring-daemon (Debian package gnome-keyring)\n"), "{text}");
        assert!(text.contains("  - node (Node.js 20 or newer"), "{text}");
        assert!(text.ends_with("  - library package libssl-dev"), "{text}");
    }

    #[test]
    fn apt_installs_only_what_debian_provides() {
        assert_eq!(Missing::Program(program("dunstctl")).debian_package(), Some("dunst"));
        assert_eq!(Missing::Library("libxdo-dev").debian_package(), Some("libxdo-dev"));
        assert_eq!(Missing::Program(program("node")).debian_package(), None);
        assert_eq!(Missing::Program(program("tauri-driver")).debian_package(), None);
    }
}
