//! `cargo xtask demo`: build the UI and run the desktop app.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::prereq::{self, BUILD_PACKAGES, HEADLESS_PACKAGES};
use crate::shell::{exec, exec_command, step};

/// How long the window may take to appear under Xvfb (a cold WebKit start on
/// a loaded 2-core machine takes a few seconds).
const WINDOW_WAIT_SECONDS: u32 = 60;

pub fn run_demo(screenshot: Option<PathBuf>) -> Result<(), String> {
    let has_display = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let headless = screenshot.is_some() || !has_display;
    let packages = if headless { [BUILD_PACKAGES, HEADLESS_PACKAGES].concat() } else { BUILD_PACKAGES.to_vec() };
    prereq::system_packages(&packages)?;
    prereq::node()?;
    prereq::ui_packages()?;
    prereq::build_ui()?;
    let app = build_app()?;

    if !headless {
        step("Run Countersign (close the window or use the tray menu to quit)");
        return exec_command(&mut Command::new(&app));
    }
    match screenshot {
        Some(path) => screenshot_under_xvfb(&app, &path),
        None => {
            step("Run Countersign under Xvfb (no display found: the window is invisible; Ctrl-C to stop)");
            println!("    tip: `cargo xtask demo --screenshot shot.png` saves a picture of the window");
            exec_command(xvfb(&mut Command::new("dbus-run-session")).arg("--").arg(&app))
        }
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut screenshot = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--screenshot" => {
                let path = args.next().ok_or("--screenshot needs a file path")?;
                screenshot = Some(absolute(Path::new(path)));
            }
            other => return Err(format!("demo: unknown option `{other}`")),
        }
    }
    run_demo(screenshot)
}

/// Builds the desktop app and returns the path of its binary.
pub fn build_app() -> Result<PathBuf, String> {
    step("Build the desktop app");
    exec(&crate::root(), "cargo", &["build", "--package", "countersign-desktop", "--bin", "countersign"])?;
    Ok(crate::target_dir().join("debug").join(binary_name("countersign")))
}

fn binary_name(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// Wraps a command in `xvfb-run` with a screen large enough for the window.
pub fn xvfb(inner: &mut Command) -> &mut Command {
    let program = inner.get_program().to_owned();
    let args: Vec<_> = inner.get_args().map(ToOwned::to_owned).collect();
    let envs: Vec<_> = inner.get_envs().map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned))).collect();
    *inner = Command::new("xvfb-run");
    inner.args(["-a", "-s", "-screen 0 1280x800x24"]).arg(program).args(args);
    for (key, value) in envs {
        match value {
            Some(value) => inner.env(key, value),
            None => inner.env_remove(key),
        };
    }
    inner
}

/// Starts the app under Xvfb, waits for its window, saves the whole screen.
fn screenshot_under_xvfb(app: &Path, path: &Path) -> Result<(), String> {
    step(&format!("Screenshot of the window under Xvfb -> {}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    // The window title is set by tauri.conf.json; xwininfo sees it once mapped.
    // The extra seconds let WebKit paint the inbox after the window maps.
    let script = format!(
        r#"set -eu
"$APP" & app=$!
for _ in $(seq {WINDOW_WAIT_SECONDS}); do
  if xwininfo -root -tree | grep -q '"Countersign"'; then break; fi
  sleep 1
done
xwininfo -root -tree | grep -q '"Countersign"' || {{ echo "the window did not appear" >&2; kill $app; exit 1; }}
sleep 4
window=$(xwininfo -name Countersign | awk '/Window id:/ {{print $4}}')
import -window "$window" "$SHOT"
kill $app
wait $app || true
"#
    );
    let mut command = Command::new("dbus-run-session");
    command.args(["--", "sh", "-c", &script]).env("APP", app).env("SHOT", path);
    exec_command(xvfb(&mut command))?;
    println!("    saved {}", path.display());
    Ok(())
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|dir| dir.join(path)).unwrap_or_else(|_| path.to_path_buf())
    }
}
