//! `cargo xtask test`: every test the project has.

use std::process::Command;

use crate::demo::xvfb;
use crate::prereq;
use crate::shell::{exec, exec_command, step};

pub fn run_tests(skip_install: bool) -> Result<(), String> {
    let root = crate::root();
    let ui = root.join("ui");
    let tauri_driver = if skip_install {
        prereq::find_tauri_driver().ok_or("tauri-driver is missing: run without --skip-install")?
    } else {
        prereq::all()?
    };

    step("UI: type check (svelte-check)");
    exec(&ui, "npm", &["run", "--silent", "check"])?;
    step("UI: component tests (vitest)");
    exec(&ui, "npm", &["test"])?;
    prereq::build_ui()?;

    step("Cargo tests (whole workspace)");
    exec(&root, "cargo", &["test", "--workspace", "--all-targets"])?;
    exec(&root, "cargo", &["test", "--workspace", "--doc"])?;

    // The end-to-end tests drive the real app window through WebDriver
    // (tauri-driver + WebKitWebDriver). They are #[ignore]d in plain
    // `cargo test` because they need a display; here they get Xvfb and a
    // private D-Bus session.
    step("End-to-end tests of the real window under Xvfb");
    let mut command = Command::new("dbus-run-session");
    command
        .args(["--", "cargo", "test", "--package", "countersign-desktop", "--test", "e2e"])
        .args(["--", "--ignored", "--test-threads=1"])
        .current_dir(&root)
        .env("TAURI_DRIVER", &tauri_driver);
    exec_command(xvfb(&mut command))?;

    step("All tests passed");
    Ok(())
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut skip_install = false;
    for arg in args {
        match arg.as_str() {
            "--skip-install" => skip_install = true,
            other => return Err(format!("test: unknown option `{other}`")),
        }
    }
    run_tests(skip_install)
}
