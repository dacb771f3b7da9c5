//! Linux user verification through polkit (`verify::PolkitVerifier`),
//! headless: each test starts a private system bus and polkitd
//! (`countersign-test-polkit`, as root) and runs `examples/verify_user` as
//! a non-root test user on a pseudo-terminal, typing at its text agent's
//! prompt. Not root, or a program missing: the tests print `SKIPPED: …`
//! (and fail in CI or with `COUNTERSIGN_REQUIRE_POLKIT=1`).
#![cfg(target_os = "linux")]

use countersign_test_polkit::{skip, Options, PtyChild, World};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::OnceLock;
use std::time::Duration;

/// The shipped action, as the packages install it.
const POLICY: &str = include_str!("../../../packaging/linux/org.countersign.approve.policy");
const ACTION: &str = "org.countersign.approve";
/// A second action, which the test's rule answers "no".
const ACTION_NO: &str = "org.countersign.approve.test-no";
const RULE_NO: &str = r#"polkit.addRule(function (action, subject) {
    if (action.id == "org.countersign.approve.test-no") {
        return polkit.Result.NO;
    }
});
"#;
/// What the example asks to approve.
const REASON: &str = "Approve: buy 10 AAPL for Portfolio Agent";
const PROMPT: Duration = Duration::from_secs(20);
/// A wrong password costs pam_unix's delay (about 2 seconds).
const EXIT: Duration = Duration::from_secs(30);

fn options() -> Options {
    let no = POLICY.replace(&format!("id=\"{ACTION}\""), &format!("id=\"{ACTION_NO}\""));
    assert_ne!(no, POLICY, "the policy names {ACTION}");
    Options {
        actions: vec![(format!("{ACTION}.policy"), POLICY.to_owned()), (format!("{ACTION_NO}.policy"), no)],
        rules: vec![("10-countersign-test.rules".to_owned(), RULE_NO.to_owned())],
    }
}

/// The example, built once per run so it is never older than the code
/// under test (`cargo test --test polkit` alone builds no examples; after
/// `cargo test --all-targets` this is a no-op).
fn example() -> PathBuf {
    static EXAMPLE: OnceLock<PathBuf> = OnceLock::new();
    EXAMPLE.get_or_init(build_example).clone()
}

fn build_example() -> PathBuf {
    // target/<profile>/deps/polkit-HASH → target/<profile>
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let target_dir = profile_dir.parent().unwrap();
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--quiet", "--package", "countersign-approver", "--example", "verify_user"])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|name| name == "release") {
        cargo.arg("--release");
    }
    let status = cargo.status().unwrap();
    assert!(status.success(), "building examples/verify_user: {status}");
    let example = profile_dir.join("examples").join("verify_user");
    assert!(example.is_file(), "{} is missing", example.display());
    example
}

/// A private polkit and the example the test user runs; `None` when this
/// machine cannot (after saying so).
fn world() -> Option<(World, PathBuf)> {
    match World::start(&options()) {
        Ok(world) => {
            let program = world.install_program(&example());
            Some((world, program))
        }
        Err(why) => {
            skip(&why);
            None
        }
    }
}

fn run(world: &World, program: &Path, args: &[&str]) -> PtyChild {
    world.spawn_as_user(program, args, &[("RUST_BACKTRACE", "1")])
}

/// Waits for the end; its status and the whole output. Checks it ran as
/// the test user, never root (polkit authorizes root without asking).
fn finish(world: &World, child: &mut PtyChild) -> (ExitStatus, String) {
    let status = child.wait(EXIT).unwrap();
    let output = child.output();
    let uid = output.lines().find_map(|line| line.trim().strip_prefix("uid=")).unwrap_or_else(|| panic!("{output}"));
    assert_eq!(uid, world.user().uid.to_string(), "{output}");
    assert_ne!(uid, "0", "the verifier ran as root");
    (status, output)
}

/// The example's verdict line (from its first word: an agent stopped
/// mid-prompt leaves the verdict on the prompt's line).
fn verdict(output: &str) -> &str {
    const VERDICTS: [&str; 5] = ["verified", "refused:", "cancelled", "unavailable:", "failed:"];
    output
        .lines()
        .rev()
        .filter(|line| !line.starts_with("availability:"))
        .find_map(|line| VERDICTS.iter().filter_map(|v| line.find(v)).min().map(|at| line[at..].trim_end()))
        .unwrap_or_else(|| panic!("no verdict in:\n{output}"))
}

#[test]
fn the_right_password_verifies_and_the_prompt_names_the_request() {
    let Some((world, program)) = world() else { return };
    let mut child = run(&world, &program, &[]);
    child.expect("Password:", PROMPT).unwrap();
    let shown = child.output();
    assert!(shown.contains(REASON), "the prompt does not name the request:\n{shown}");
    assert!(shown.contains(&format!("AUTHENTICATING FOR {ACTION}")), "{shown}");
    assert!(shown.contains("Authentication is required to sign the approval you chose in Countersign"), "{shown}");
    // "Authenticating as: <full name> (<user name>)".
    assert!(shown.contains(&format!("({})", world.user().name)), "{shown}");
    child.type_password(PROMPT).unwrap();
    let (status, output) = finish(&world, &mut child);
    assert_eq!(verdict(&output), "verified amr=user", "{output}");
    assert!(status.success(), "{status}\n{output}");
    assert!(output.contains("availability: available"), "{output}");
    assert!(!output.contains(world.user().password()), "the password was echoed");
}

#[test]
fn a_wrong_password_is_refused() {
    let Some((world, program)) = world() else { return };
    let mut child = run(&world, &program, &[]);
    child.expect("Password:", PROMPT).unwrap();
    child.type_hidden("not-the-password", PROMPT).unwrap();
    let (status, output) = finish(&world, &mut child);
    assert!(verdict(&output).starts_with("refused:"), "{output}");
    assert!(!status.success(), "{output}");
}

#[test]
fn ctrl_c_at_the_prompt_never_verifies() {
    let Some((world, program)) = world() else { return };
    let mut child = run(&world, &program, &[]);
    child.expect("Password:", PROMPT).unwrap();
    // SIGINT to the foreground group: the agent and the example itself
    // (which, like the CLI, does not catch it).
    child.interrupt().unwrap();
    let (status, output) = finish(&world, &mut child);
    assert!(!status.success(), "{output}");
    assert!(!output.contains("verified"), "{output}");
}

#[test]
fn the_agent_stopped_at_the_prompt_is_cancelled() {
    let Some((world, program)) = world() else { return };
    let mut child = run(&world, &program, &[]);
    child.expect("Password:", PROMPT).unwrap();
    // Ctrl-C reaching only the agent (as when the caller catches SIGINT).
    child.interrupt_descendants("pkttyagent").unwrap();
    let (status, output) = finish(&world, &mut child);
    assert_eq!(verdict(&output), "cancelled", "{output}");
    assert!(!status.success(), "{output}");
}

#[test]
fn a_rule_saying_no_refuses_without_a_prompt() {
    let Some((world, program)) = world() else { return };
    let mut child = run(&world, &program, &[ACTION_NO]);
    let (status, output) = finish(&world, &mut child);
    assert!(verdict(&output).starts_with("refused:"), "{output}");
    assert!(!output.contains("Password:"), "{output}");
    assert!(!status.success(), "{output}");
}

#[test]
fn without_an_agent_it_is_unavailable_and_says_what_would_work() {
    let Some((world, program)) = world() else { return };
    // The desktop session's agent: there is none in this session.
    let mut child = run(&world, &program, &["--session"]);
    let (status, output) = finish(&world, &mut child);
    let verdict = verdict(&output);
    assert!(verdict.starts_with("unavailable: no polkit authentication agent"), "{output}");
    assert!(verdict.contains("desktop session") && verdict.contains("terminal"), "{output}");
    assert!(verdict.contains("text agent"), "{output}");
    assert!(!output.contains("Password:"), "{output}");
    assert!(!status.success(), "{output}");
}

#[test]
fn an_action_not_installed_is_unavailable() {
    let Some((world, program)) = world() else { return };
    let mut child = run(&world, &program, &["org.countersign.not-installed"]);
    let (status, output) = finish(&world, &mut child);
    assert!(
        output.contains("availability: unavailable: the polkit action org.countersign.not-installed is not installed"),
        "{output}"
    );
    assert!(verdict(&output).starts_with("unavailable: the polkit action"), "{output}");
    assert!(!status.success(), "{output}");
}
