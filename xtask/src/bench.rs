//! `cargo xtask bench-desktop`: the desktop app beside an empty Tauri app.
//!
//! Builds the app, the empty Tauri app (`benches/empty-tauri/`, an example
//! built only with the `bench-empty-app` feature) and the benchmark
//! (`benches/desktop.rs`) with the `bench` profile, then runs the benchmark
//! under Xvfb and a private D-Bus session, like the end-to-end tests. The
//! figures and what they mean are in docs/performance.md.

use std::process::Command;

use crate::demo::xvfb;
use crate::prereq;
use crate::programs;
use crate::shell::{exec, exec_command, step};

pub const USAGE: &str = "\
usage: cargo xtask bench-desktop [options]
  --runs N            launches per start-up, inbox and admin figure (default 5)
  --idle-secs S       idle window (default 60)
  --requests N        requests in the inbox (default 1000)
  --scroll-speed PX   scroll speed, pixels per second (default 3000)
  --admin-rows N      rows scrolled in each admin list (default 2000)
  --parts LIST        any of start,idle,idle-inbox,click,inbox,fetch,admin (default all)
  --skip-install      no apt, npm or tauri-driver installs
";

/// Options passed to the benchmark as environment variables.
const KNOBS: &[(&str, &str)] = &[
    ("--runs", "COUNTERSIGN_BENCH_RUNS"),
    ("--idle-secs", "COUNTERSIGN_BENCH_IDLE_SECS"),
    ("--requests", "COUNTERSIGN_BENCH_REQUESTS"),
    ("--scroll-speed", "COUNTERSIGN_BENCH_SCROLL_SPEED"),
    ("--admin-rows", "COUNTERSIGN_BENCH_ADMIN_ROWS"),
    ("--parts", "COUNTERSIGN_BENCH_PARTS"),
];

pub fn run(args: &[String]) -> Result<(), String> {
    let mut skip_install = false;
    let mut env: Vec<(&str, String)> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--skip-install" {
            skip_install = true;
            continue;
        }
        if arg == "-h" || arg == "--help" {
            print!("{USAGE}");
            return Ok(());
        }
        let Some((_, var)) = KNOBS.iter().find(|(flag, _)| flag == arg) else {
            return Err(format!("bench-desktop: unknown option `{arg}`\n\n{USAGE}"));
        };
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        let valid = match *var {
            "COUNTERSIGN_BENCH_PARTS" => !value.is_empty(),
            "COUNTERSIGN_BENCH_SCROLL_SPEED" => value.parse::<f64>().is_ok_and(|v| v > 0.0),
            _ => value.parse::<u64>().is_ok_and(|v| v > 0),
        };
        if !valid {
            return Err(format!("{arg}: `{value}` is not valid\n\n{USAGE}"));
        }
        env.push((var, value.clone()));
    }

    let root = crate::root();
    if skip_install {
        prereq::check(programs::BENCH)?;
    } else {
        prereq::install(programs::BENCH)?;
        prereq::ui_packages()?;
    }
    let tauri_driver = prereq::tauri_driver()?;
    prereq::build_ui()?;

    // One feature set and one profile for everything: the app, the empty
    // app and the benchmark share the same compiled tauri.
    step("Build the empty Tauri app (release, `bench` profile)");
    exec(
        &root,
        "cargo",
        &[
            "build",
            "--profile",
            "bench",
            "-p",
            "countersign-desktop",
            "--example",
            "empty-tauri",
            "--features",
            "bench-empty-app",
        ],
    )?;
    step("Build Countersign and the benchmark (release, `bench` profile)");
    let bench = ["bench", "-p", "countersign-desktop", "--bench", "desktop", "--features", "bench-empty-app"];
    exec(&root, "cargo", &[&bench[..], &["--no-run"]].concat())?;

    step("Desktop benchmark under Xvfb (several minutes)");
    let empty =
        crate::target_dir().join("release/examples").join(format!("empty-tauri{}", std::env::consts::EXE_SUFFIX));
    let mut command = Command::new("dbus-run-session");
    command
        .arg("--")
        .arg("cargo")
        .args(bench)
        .current_dir(&root)
        .env("COUNTERSIGN_BENCH_EMPTY_APP", &empty)
        .env("TAURI_DRIVER", &tauri_driver)
        .envs(env);
    exec_command(xvfb(&mut command))
}
