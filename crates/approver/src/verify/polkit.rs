//! Linux: polkit verifies the person for the action [`super::POLKIT_ACTION`]
//! (`auth_self`: every approval asks for the user's own password, or
//! whatever PAM's `polkit-1` service asks: a fingerprint with pam_fprintd).
//!
//! We call `org.freedesktop.PolicyKit1.Authority.CheckAuthorization` for our
//! own process on the system bus. polkitd hands the prompt to the
//! authentication agent registered for that process or its session: the
//! desktop's (GNOME Shell, KDE's agent…) or, in a terminal, a `pkttyagent`
//! we start for our own process. The answer says only authorized or not:
//! polkit never tells the caller which PAM factor was used, so a success is
//! the `amr` value `user`, never `pwd`.
//!
//! The request is not in polkit's prompt: polkitd refuses caller details
//! (which its `$(key)` message substitution and `polkit.message` read) from
//! callers that are not root or listed as the action's owner ("Only trusted
//! callers (e.g. uid 0 or an action owner) can use CheckAuthorization() and
//! pass details", measured with polkit 122). So the action's message is
//! fixed, and with our text agent we print the reason on the terminal just
//! before the agent's prompt; the desktop shows the request in its window.

use super::{Availability, UserVerifier, VerifyError};
use countersign_protocol::amr::Amr;
use dbus::arg::{RefArg, Variant};
use dbus::blocking::{Connection, Proxy};
use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex, PoisonError};
use std::time::{Duration, Instant};

const BUS_NAME: &str = "org.freedesktop.PolicyKit1";
const OBJECT_PATH: &str = "/org/freedesktop/PolicyKit1/Authority";
const INTERFACE: &str = "org.freedesktop.PolicyKit1.Authority";

/// `CheckAuthorizationFlags.AllowUserInteraction`.
const ALLOW_USER_INTERACTION: u32 = 1;

/// How long `CheckAuthorization` may take: the person reads the request,
/// finds the prompt, types a password or tries a fingerprint a few times.
/// Five minutes covers that with room; past it the prompt is most likely
/// forgotten, and the request it would approve has usually expired anyway.
/// On expiry we cancel the check so the agent's prompt goes away.
const PROMPT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// For the quick calls (`EnumerateActions`, `CancelCheckAuthorization`).
const QUICK_TIMEOUT: Duration = Duration::from_secs(10);

/// How long our `pkttyagent` may take to register with polkitd.
const AGENT_REGISTER_TIMEOUT: Duration = Duration::from_secs(10);

/// After a "not authorized", how long to wait for our agent to be seen
/// exiting: an agent that died mid-prompt (Ctrl-C, its terminal closed)
/// makes polkitd answer "not authorized" just before its exit is visible.
const AGENT_EXIT_GRACE: Duration = Duration::from_millis(150);

/// Where the text agent is looked for first (Debian, Fedora, Arch…), then
/// on `PATH`.
const PKTTYAGENT: &str = "/usr/bin/pkttyagent";

/// What would make it work here, for every "unavailable" message (the
/// approver adds the rest: another enrolled device, or deny,
/// `verify::cannot_verify`).
const INSTEAD: &str = "install the Countersign polkit action \
    (/usr/share/polkit-1/actions/org.countersign.approve.policy, shipped by the .deb and .rpm packages) and start polkitd";

/// What would work when no agent answered.
const NO_AGENT: &str = "no polkit authentication agent is running for this session: run Countersign in a desktop \
    session that has one (GNOME, KDE, or e.g. polkit-gnome-authentication-agent-1 started with the session), \
    or use the command line approver from a terminal (it starts its own text agent)";

/// One of our text agents at a time: polkitd accepts one agent per subject,
/// and every agent of ours is for this same process.
static AGENT_LOCK: Mutex<()> = Mutex::new(());

/// Which polkit authentication agent answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextAgent {
    /// The desktop session's agent (none of ours).
    Session,
    /// Our own text agent (`pkttyagent`) on the terminal when standard input
    /// is one; otherwise the session's agent.
    IfTerminal,
}

/// User verification by polkit (Linux).
#[derive(Debug, Clone)]
pub struct PolkitVerifier {
    action_id: String,
    agent: TextAgent,
}

impl PolkitVerifier {
    /// Checks `action_id` (normally [`super::POLKIT_ACTION`]), with `agent`.
    #[must_use]
    pub fn new(action_id: &str, agent: TextAgent) -> Self {
        Self { action_id: action_id.to_owned(), agent }
    }

    /// Whether this verification starts our own text agent: asked for, and
    /// standard input is a terminal.
    fn uses_text_agent(&self) -> bool {
        self.agent == TextAgent::IfTerminal && std::io::stdin().is_terminal()
    }
}

impl UserVerifier for PolkitVerifier {
    fn method(&self) -> &'static str {
        "polkit"
    }

    fn availability(&self) -> Availability {
        if let Some(why) = running_as_root() {
            return Availability::Unavailable(why);
        }
        let connection = match Connection::new_system() {
            Ok(connection) => connection,
            Err(e) => return Availability::Unavailable(no_system_bus(&e)),
        };
        match action_registered(&connection, &self.action_id) {
            Ok(true) => {}
            Ok(false) => return Availability::Unavailable(action_missing(&self.action_id)),
            Err(VerifyError::Unavailable(why) | VerifyError::Failed(why) | VerifyError::Refused(why)) => {
                return Availability::Unavailable(why)
            }
            Err(VerifyError::Cancelled) => return Availability::Unavailable("polkit's answer was cancelled".into()),
        }
        if self.uses_text_agent() {
            if let Err(why) = pkttyagent() {
                return Availability::Unavailable(why);
            }
        }
        Availability::Available
    }

    fn verify(&self, reason: &str) -> Result<Vec<Amr>, VerifyError> {
        if let Some(why) = running_as_root() {
            return Err(VerifyError::Unavailable(why));
        }
        let subject = ProcessSubject::current().map_err(VerifyError::Failed)?;
        let connection = Connection::new_system().map_err(|e| VerifyError::Unavailable(no_system_bus(&e)))?;
        if !self.uses_text_agent() {
            let answer = check_authorization(&connection, &subject, &self.action_id)?;
            return interpret(answer, false);
        }
        let _one_agent = AGENT_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        show_reason_on_terminal(reason)?;
        let mut agent = TextAgentProcess::start(&subject)?;
        let answer = check_authorization(&connection, &subject, &self.action_id);
        match answer {
            Ok(answer) if !answer.authorized => {
                let ended = agent.ended_within(AGENT_EXIT_GRACE);
                interpret(answer, ended)
            }
            Ok(answer) => interpret(answer, false),
            Err(e) => Err(e),
        }
    }
}

/// The polkit subject `unix-process` for this process (polkit's D-Bus API:
/// `pid` u32, `start-time` u64 from /proc, `uid` i32): the start time keeps a
/// later process reusing our pid from inheriting the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcessSubject {
    pid: u32,
    start_time: u64,
    uid: u32,
}

impl ProcessSubject {
    fn current() -> Result<Self, String> {
        let stat = std::fs::read_to_string("/proc/self/stat").map_err(|e| format!("reading /proc/self/stat: {e}"))?;
        let start_time = start_time_from_stat(&stat).ok_or("no start time in /proc/self/stat")?;
        let status =
            std::fs::read_to_string("/proc/self/status").map_err(|e| format!("reading /proc/self/status: {e}"))?;
        let uid = real_uid_from_status(&status).ok_or("no Uid line in /proc/self/status")?;
        Ok(Self { pid: std::process::id(), start_time, uid })
    }

    fn to_dbus(self) -> Subject {
        let mut details: HashMap<String, Variant<Box<dyn RefArg>>> = HashMap::new();
        details.insert("pid".into(), Variant(Box::new(self.pid)));
        details.insert("start-time".into(), Variant(Box::new(self.start_time)));
        // polkit's uid is an i32; uids above i32::MAX do not exist on Linux
        // distributions (the kernel's own limit is u32::MAX - 1), so -1
        // (unknown: polkitd reads it) is a safe fallback.
        details.insert("uid".into(), Variant(Box::new(i32::try_from(self.uid).unwrap_or(-1))));
        ("unix-process".to_owned(), details)
    }
}

type Subject = (String, HashMap<String, Variant<Box<dyn RefArg>>>);

/// Field 22 of /proc/PID/stat, the start time in clock ticks since boot.
/// Field 2, the command name, is in parentheses and may itself contain
/// spaces and parentheses: the fields after it are counted from its last `)`.
fn start_time_from_stat(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // After the name come fields 3 (state), 4, …: field 22 is the 20th.
    after_comm.split_whitespace().nth(19)?.parse().ok()
}

/// Why polkit cannot verify anyone for this process: it runs as root
/// (real or effective uid 0), and polkitd authorizes root for every action
/// without asking, which would sign `user` with nobody verified.
fn running_as_root() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    root_in_status(&status).then(|| {
        "this approver runs as root, and polkit authorizes root without asking anyone: run it as your own user"
            .to_owned()
    })
}

/// Whether the real or the effective uid of the `Uid:` line is 0 (a line
/// that cannot be read counts as root: refused rather than trusted).
fn root_in_status(status: &str) -> bool {
    let Some(line) = status.lines().find_map(|line| line.strip_prefix("Uid:")) else { return true };
    let mut ids = line.split_whitespace().map(str::parse::<u32>);
    match (ids.next(), ids.next()) {
        (Some(Ok(real)), Some(Ok(effective))) => real == 0 || effective == 0,
        _ => true,
    }
}

/// The real uid (`getuid`), the first number of the `Uid:` line of
/// /proc/PID/status; polkitd compares the subject's uid with the same one.
fn real_uid_from_status(status: &str) -> Option<u32> {
    let line = status.lines().find_map(|line| line.strip_prefix("Uid:"))?;
    line.split_whitespace().next()?.parse().ok()
}

/// polkit's answer: `(is_authorized, is_challenge, details)`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    authorized: bool,
    challenge: bool,
    details: HashMap<String, String>,
}

/// `CheckAuthorization`'s reply, `(bba{ss})`.
type AnswerArgs = (bool, bool, HashMap<String, String>);

/// Unique per check, so a timed-out check can be cancelled.
fn cancellation_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("countersign-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn authority(connection: &Connection, timeout: Duration) -> Proxy<'_, &Connection> {
    connection.with_proxy(BUS_NAME, OBJECT_PATH, timeout)
}

fn check_authorization(
    connection: &Connection,
    subject: &ProcessSubject,
    action_id: &str,
) -> Result<Answer, VerifyError> {
    let cancellation = cancellation_id();
    // No details: polkitd answers NotAuthorized to an unprivileged caller
    // that passes any (see the module's documentation).
    let details: HashMap<String, String> = HashMap::new();
    let reply: Result<(AnswerArgs,), dbus::Error> = authority(connection, PROMPT_TIMEOUT).method_call(
        INTERFACE,
        "CheckAuthorization",
        (subject.to_dbus(), action_id, details, ALLOW_USER_INTERACTION, cancellation.as_str()),
    );
    match reply {
        Ok(((authorized, challenge, details),)) => Ok(Answer { authorized, challenge, details }),
        Err(e) => {
            if e.name() == Some("org.freedesktop.DBus.Error.NoReply") {
                // The prompt outlived PROMPT_TIMEOUT: take it down.
                let _ = authority(connection, QUICK_TIMEOUT).method_call::<(), _, _, _>(
                    INTERFACE,
                    "CancelCheckAuthorization",
                    (cancellation.as_str(),),
                );
            }
            Err(check_error(&e, connection, action_id))
        }
    }
}

/// What a failed `CheckAuthorization` means.
fn check_error(e: &dbus::Error, connection: &Connection, action_id: &str) -> VerifyError {
    let name = e.name().unwrap_or("");
    if name == "org.freedesktop.PolicyKit1.Error.Failed" && action_registered(connection, action_id) == Ok(false) {
        return VerifyError::Unavailable(action_missing(action_id));
    }
    dbus_error(name, e.message().unwrap_or(""))
}

/// The pure part of [`check_error`]: by the error's name.
fn dbus_error(name: &str, message: &str) -> VerifyError {
    match name {
        "org.freedesktop.DBus.Error.ServiceUnknown"
        | "org.freedesktop.DBus.Error.NameHasNoOwner"
        | "org.freedesktop.DBus.Error.Spawn.ServiceNotFound"
        | "org.freedesktop.DBus.Error.Spawn.ChildExited"
        | "org.freedesktop.DBus.Error.Spawn.Failed" => VerifyError::Unavailable(format!(
            "polkit is not running on this machine (no owner of {BUS_NAME}: {message}); {INSTEAD}"
        )),
        "org.freedesktop.PolicyKit1.Error.Cancelled" => VerifyError::Cancelled,
        "org.freedesktop.DBus.Error.NoReply" | "org.freedesktop.DBus.Error.Timeout" => VerifyError::Failed(format!(
            "no answer from polkit within {} minutes; the prompt was cancelled",
            PROMPT_TIMEOUT.as_secs() / 60
        )),
        _ => VerifyError::Failed(format!("polkit's CheckAuthorization failed: {message} ({name})")),
    }
}

/// What polkit's answer means. `agent_ended`: our own text agent exited
/// while polkit was asking (Ctrl-C, its terminal closed).
fn interpret(answer: Answer, agent_ended: bool) -> Result<Vec<Amr>, VerifyError> {
    if answer.authorized {
        // polkit does not say which PAM factor answered: only "the OS
        // verified the user".
        return Ok(vec![Amr::User]);
    }
    if answer.details.get("polkit.dismissed").is_some_and(|v| v == "true") || agent_ended {
        return Err(VerifyError::Cancelled);
    }
    if answer.challenge {
        // We allowed interaction, yet polkitd still answers "a challenge
        // would be needed": no agent was there to ask.
        return Err(VerifyError::Unavailable(NO_AGENT.to_owned()));
    }
    Err(VerifyError::Refused(
        "polkit did not authorize the approval (authentication failed, or a polkit rule denies it)".to_owned(),
    ))
}

/// Whether polkitd knows `action_id` (`EnumerateActions`; this also starts
/// a D-Bus-activated polkitd).
fn action_registered(connection: &Connection, action_id: &str) -> Result<bool, VerifyError> {
    type ActionDescription = (String, String, String, String, String, String, u32, u32, u32, HashMap<String, String>);
    let reply: Result<(Vec<ActionDescription>,), dbus::Error> =
        authority(connection, QUICK_TIMEOUT).method_call(INTERFACE, "EnumerateActions", ("",));
    match reply {
        Ok((actions,)) => Ok(actions.iter().any(|action| action.0 == action_id)),
        Err(e) => Err(dbus_error(e.name().unwrap_or(""), e.message().unwrap_or(""))),
    }
}

fn no_system_bus(e: &dbus::Error) -> String {
    format!("polkit cannot be reached: no system D-Bus ({}); {INSTEAD}", e.message().unwrap_or("cannot connect"))
}

fn action_missing(action_id: &str) -> String {
    format!("the polkit action {action_id} is not installed; {INSTEAD}")
}

/// The text agent's program.
fn pkttyagent() -> Result<PathBuf, String> {
    let fixed = PathBuf::from(PKTTYAGENT);
    if fixed.is_file() {
        return Ok(fixed);
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join("pkttyagent")).find(|p| p.is_file()));
    on_path.ok_or_else(|| {
        format!(
            "pkttyagent, polkit's text authentication agent, is not installed (Debian: package polkitd, \
             Fedora: polkit); {INSTEAD}"
        )
    })
}

/// The reason on the terminal, just above the agent's prompt (polkit's own
/// message cannot carry it). It is already escaped by `prompt_reason`;
/// control characters are escaped again here since this goes to a terminal.
fn show_reason_on_terminal(reason: &str) -> Result<(), VerifyError> {
    let mut tty = std::fs::OpenOptions::new().write(true).open("/dev/tty").map_err(|e| {
        VerifyError::Unavailable(format!("no controlling terminal for the password prompt ({e}); {INSTEAD}"))
    })?;
    let line = format!("Countersign asks you to verify it is you to sign: {}\n", terminal_safe(reason));
    tty.write_all(line.as_bytes()).map_err(|e| VerifyError::Failed(format!("writing to the terminal: {e}")))
}

fn terminal_safe(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { format!("\\u{{{:04X}}}", u32::from(c)) } else { c.to_string() }).collect()
}

/// Our `pkttyagent`, registered for this process; stopped when dropped.
struct TextAgentProcess {
    child: Child,
    /// The terminal's settings before the agent started, put back if it is
    /// stopped while it may be prompting (echo off).
    terminal: Option<SavedTerminal>,
}

/// The settings of the controlling terminal (`tcgetattr` on /dev/tty).
struct SavedTerminal {
    tty: std::fs::File,
    settings: libc::termios,
}

impl SavedTerminal {
    fn save() -> Option<Self> {
        use std::os::fd::AsRawFd as _;
        let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").ok()?;
        // SAFETY: `termios` is plain data; tcgetattr fills it for an open fd.
        let mut settings: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: the fd is open for the call's duration; the pointer is valid.
        (unsafe { libc::tcgetattr(tty.as_raw_fd(), &raw mut settings) } == 0).then_some(Self { tty, settings })
    }

    fn restore(&self) {
        use std::os::fd::AsRawFd as _;
        // SAFETY: as in `save`; the settings are the ones tcgetattr gave.
        let _ = unsafe { libc::tcsetattr(self.tty.as_raw_fd(), libc::TCSANOW, &raw const self.settings) };
    }
}

impl TextAgentProcess {
    /// Starts the agent for `subject` and waits until it has registered:
    /// with `--notify-fd 1` it closes its standard output (our pipe) once
    /// polkitd accepted it. No `--fallback`: polkit 122 ignores fallback
    /// agents for a subject outside any logind session, and without it the
    /// agent serves exactly our process.
    fn start(subject: &ProcessSubject) -> Result<Self, VerifyError> {
        let program = pkttyagent().map_err(VerifyError::Unavailable)?;
        let terminal = SavedTerminal::save();
        let mut child = Command::new(&program)
            .arg("--process")
            .arg(format!("{},{}", subject.pid, subject.start_time))
            .args(["--notify-fd", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| VerifyError::Failed(format!("starting {}: {e}", program.display())))?;
        let Some(mut notify) = child.stdout.take() else {
            return Err(VerifyError::Failed("pkttyagent's notification pipe is missing".into()));
        };
        let (done, registered) = mpsc::channel();
        // A thread: a pipe read has no timeout of its own.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = done.send(notify.read_to_end(&mut sink).map(|_| ()));
        });
        let mut agent = Self { child, terminal };
        match registered.recv_timeout(AGENT_REGISTER_TIMEOUT) {
            // End of file: it closed the pipe, or it exited.
            Ok(Ok(())) if matches!(agent.child.try_wait(), Ok(None)) => Ok(agent),
            Ok(_) => {
                let said = agent.stop_and_say().unwrap_or_else(|| "it exited".to_owned());
                Err(VerifyError::Unavailable(format!("polkit's text agent could not start: {said}; {INSTEAD}")))
            }
            Err(_) => Err(VerifyError::Failed(format!(
                "pkttyagent did not register with polkit within {} seconds",
                AGENT_REGISTER_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Whether the agent exits within `grace`.
    fn ended_within(&mut self, grace: Duration) -> bool {
        let deadline = Instant::now() + grace;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return true,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                _ => return false,
            }
        }
    }

    /// Stops the agent; what it wrote on its standard error, if anything.
    fn stop_and_say(&mut self) -> Option<String> {
        self.stop();
        let mut said = String::new();
        self.child.stderr.take()?.read_to_string(&mut said).ok()?;
        let said = said.trim();
        (!said.is_empty()).then(|| terminal_safe(said))
    }

    fn stop(&mut self) {
        // SIGKILL (std has no other): an agent killed mid-prompt (the check
        // timed out or failed) leaves echo off, so the terminal's settings
        // from before it started are put back.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            if let Some(terminal) = &self.terminal {
                terminal.restore();
            }
        }
        let _ = self.child.wait();
    }
}

impl Drop for TextAgentProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(authorized: bool, challenge: bool, details: &[(&str, &str)]) -> Answer {
        let details = details.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Answer { authorized, challenge, details }
    }

    #[test]
    fn the_start_time_is_field_22_even_when_the_name_has_spaces_and_parentheses() {
        let stat = "4242 (evil) 0 0 0 0 (x) y) S 1 4242 4242 34816 4242 4194560 97 0 0 0 0 0 0 0 20 0 1 0 \
                    2108749 8851456 1055 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(start_time_from_stat(stat), Some(2_108_749));
        let plain = "1 (systemd) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 37 1000 10";
        assert_eq!(start_time_from_stat(plain), Some(37));
        assert_eq!(start_time_from_stat("1 (short) S 0 1"), None);
        assert_eq!(start_time_from_stat("no parenthesis at all"), None);
    }

    #[test]
    fn this_process_has_a_start_time_and_its_real_uid() {
        let subject = ProcessSubject::current().unwrap();
        assert_eq!(subject.pid, std::process::id());
        assert!(subject.start_time > 0);
        let status = "Name:\tx\nUid:\t1001\t1002\t1003\t1004\nGid:\t5\t5\t5\t5\n";
        assert_eq!(real_uid_from_status(status), Some(1001));
        assert_eq!(real_uid_from_status("Name:\tx\n"), None);
    }

    #[test]
    fn authorized_is_the_user_amr_only() {
        assert_eq!(interpret(answer(true, false, &[]), false), Ok(vec![Amr::User]));
        // Even with our agent gone by then (it is stopped after the answer).
        assert_eq!(interpret(answer(true, false, &[]), true), Ok(vec![Amr::User]));
    }

    #[test]
    fn dismissed_or_an_ended_agent_is_cancelled() {
        assert_eq!(
            interpret(answer(false, false, &[("polkit.dismissed", "true")]), false),
            Err(VerifyError::Cancelled)
        );
        assert_eq!(interpret(answer(false, false, &[]), true), Err(VerifyError::Cancelled));
    }

    #[test]
    fn a_challenge_left_unanswered_means_no_agent() {
        let Err(VerifyError::Unavailable(why)) = interpret(answer(false, true, &[]), false) else {
            panic!("not unavailable")
        };
        assert!(why.contains("no polkit authentication agent"), "{why}");
        assert!(why.contains("terminal") && why.contains("text agent"), "{why}");
    }

    #[test]
    fn a_plain_no_is_refused() {
        assert!(matches!(interpret(answer(false, false, &[]), false), Err(VerifyError::Refused(_))));
    }

    #[test]
    fn dbus_errors_say_what_is_missing() {
        let VerifyError::Unavailable(why) = dbus_error("org.freedesktop.DBus.Error.ServiceUnknown", "not provided")
        else {
            panic!("not unavailable")
        };
        assert!(why.contains("polkit is not running") && why.contains("start polkitd"), "{why}");
        assert_eq!(dbus_error("org.freedesktop.PolicyKit1.Error.Cancelled", "x"), VerifyError::Cancelled);
        assert!(
            matches!(dbus_error("org.freedesktop.DBus.Error.NoReply", "x"), VerifyError::Failed(m) if m.contains("5 minutes"))
        );
        assert!(matches!(
            dbus_error("org.freedesktop.PolicyKit1.Error.Failed", "Action x is not registered"),
            VerifyError::Failed(m) if m.contains("Action x is not registered")
        ));
        assert!(action_missing("org.countersign.approve").contains("org.countersign.approve.policy"));
    }

    #[test]
    fn the_terminal_line_escapes_control_characters() {
        assert_eq!(terminal_safe("a\u{1b}[2Jb\n"), "a\\u{001B}[2Jb\\u{000A}");
        assert_eq!(
            terminal_safe("Approve: buy 10 AAPL for Portfolio Agent"),
            "Approve: buy 10 AAPL for Portfolio Agent"
        );
    }

    #[test]
    fn the_subject_is_polkits_unix_process() {
        let (kind, details) = ProcessSubject { pid: 7, start_time: 9, uid: 1001 }.to_dbus();
        assert_eq!(kind, "unix-process");
        assert_eq!(details["pid"].0.as_u64(), Some(7));
        assert_eq!(details["start-time"].0.as_u64(), Some(9));
        assert_eq!(details["uid"].0.as_i64(), Some(1001));
        assert_eq!(details["uid"].0.signature().to_string(), "i");
        assert_eq!(details["pid"].0.signature().to_string(), "u");
        assert_eq!(details["start-time"].0.signature().to_string(), "t");
    }

    #[test]
    fn root_is_never_verified_by_polkit() {
        // polkitd authorizes uid 0 without asking: real or effective root
        // is refused, and so is a status that cannot be read.
        assert!(!root_in_status("Name:\tcli\nUid:\t1000\t1000\t1000\t1000\n"));
        assert!(root_in_status("Uid:\t0\t0\t0\t0\n"));
        assert!(root_in_status("Uid:\t1000\t0\t0\t0\n"), "setuid root");
        assert!(root_in_status("Uid:\t0\t1000\t1000\t1000\n"));
        assert!(root_in_status("Name:\tcli\n"));
        assert!(root_in_status("Uid:\tx\t1000\n"));
        let as_root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| root_in_status(&s));
        let verifier = PolkitVerifier::new(crate::verify::POLKIT_ACTION, TextAgent::Session);
        if as_root {
            let Availability::Unavailable(why) = verifier.availability() else { panic!("root is available") };
            assert!(why.contains("runs as root"), "{why}");
            let Err(VerifyError::Unavailable(why)) = verifier.verify("Approve: x for y (C)") else {
                panic!("root verified")
            };
            assert!(why.contains("runs as root"), "{why}");
        }
    }
}
