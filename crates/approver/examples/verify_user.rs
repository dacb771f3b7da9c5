//! Asks the OS to verify the user, as an approval would: polkit on Linux
//! with its own text agent when standard input is a terminal. Run by
//! tests/polkit.rs as a non-root user on a pseudo-terminal; also handy by
//! hand on a desktop.
//!
//! `verify_user [--session] [ACTION]`: ACTION defaults to
//! `org.countersign.approve`; `--session` leaves the prompt to the desktop
//! session's polkit agent (no text agent of ours). Prints `uid=N`, the
//! availability, then one of `verified amr=user`, `refused: …`,
//! `cancelled`, `unavailable: …`, `failed: …`; exits 0 only when verified.

#[cfg(target_os = "linux")]
fn main() {
    use countersign_approver::verify::{
        Availability, PolkitVerifier, TextAgent, UserVerifier, VerifyError, POLKIT_ACTION,
    };

    let mut agent = TextAgent::IfTerminal;
    let mut action = POLKIT_ACTION.to_owned();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--session" => agent = TextAgent::Session,
            _ => action = arg,
        }
    }
    // The real uid, so the test can check it never ran as root (polkit
    // authorizes root without asking).
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|l| l.split_whitespace().next());
    println!("uid={}", uid.unwrap_or("?"));

    let verifier = PolkitVerifier::new(&action, agent);
    match verifier.availability() {
        Availability::Available => println!("availability: available"),
        Availability::Unavailable(why) => println!("availability: unavailable: {why}"),
    }
    let (line, verified) = match verifier.verify("Approve: buy 10 AAPL for Portfolio Agent") {
        Ok(amr) => {
            let amr: Vec<String> = amr.iter().map(|a| a.as_str().to_owned()).collect();
            (format!("verified amr={}", amr.join(",")), true)
        }
        Err(VerifyError::Refused(why)) => (format!("refused: {why}"), false),
        Err(VerifyError::Cancelled) => ("cancelled".to_owned(), false),
        Err(VerifyError::Unavailable(why)) => (format!("unavailable: {why}"), false),
        Err(VerifyError::Failed(why)) => (format!("failed: {why}"), false),
    };
    println!("{line}");
    std::process::exit(i32::from(!verified));
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("unavailable: this example runs polkit, on Linux only");
    std::process::exit(1);
}
