//! Command line parsing and the commands, one module per concern.

mod admin;
mod approver;
mod args;
mod demo_agent;
mod keys;
mod prompts;

use admin::*;
use approver::*;
pub use args::Cli;
use args::*;
use demo_agent::*;
#[cfg(feature = "danger-soft-authenticator")]
pub use keys::ENV_DANGER_SOFT_AUTHENTICATOR;
use keys::*;
use prompts::*;

use crate::agent;
use crate::safe::{self, text};
use clap::Parser;
use countersign_approver::{Approver, Error};
use serde::Serialize;
use serde_json::json;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

/// Environment variable with the passphrase of the encrypted key file, for
/// tests and headless use only (other processes of the user can read a
/// process's environment).
pub use countersign_approver::keys::passphrase::ENV_INSECURE_PASSPHRASE;

/// Exit code: a decision was not accepted (expired, conflict, refused).
const EXIT_NOT_ACCEPTED: u8 = 3;
/// Exit code: a receipt did not verify.
const EXIT_INVALID_RECEIPT: u8 = 4;

/// A command failure: a message and an exit code.
struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), code: 1 }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::new(e.to_string())
    }
}

impl From<agent::AgentError> for Failure {
    fn from(e: agent::AgentError) -> Self {
        Failure::new(e.to_string())
    }
}

type Outcome = Result<u8, Failure>;

struct Out {
    json: bool,
}

impl Out {
    fn print<T: Serialize + ?Sized>(&self, value: &T, human: impl FnOnce() -> String) {
        let s = if self.json { safe::json(value) } else { human() };
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", s.trim_end());
        let _ = stdout.flush();
    }

    /// A list: as JSON, or one line per item, or `empty` when there are none.
    fn print_list<T: Serialize>(&self, items: &[T], empty: &str, line: impl Fn(&T) -> String) {
        self.print(items, || {
            if items.is_empty() {
                empty.into()
            } else {
                items.iter().map(line).collect::<Vec<_>>().join("\n")
            }
        });
    }

    fn line<T: Serialize + ?Sized>(&self, value: &T, human: impl FnOnce() -> String) {
        let s = if self.json { safe::json_line(value) } else { human() };
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{s}");
        let _ = stdout.flush();
    }
}

/// Parses the command line and runs it.
#[must_use]
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            if json {
                println!("{}", safe::json(&json!({ "error": f.message })));
            }
            eprintln!("error: {}", text(&f.message));
            ExitCode::from(f.code)
        }
    }
}

async fn dispatch(cli: Cli) -> Outcome {
    let out = Out { json: cli.json };
    if let Command::Agent(cmd) = cli.command {
        crate::agent::trust_ca_file(cli.ca_file);
        return agent_command(&out, cmd).await;
    }
    let mut config = config(&cli)?;
    if let Command::Enroll { device_name: Some(name), .. } = &cli.command {
        config.device_name = name.clone();
    }
    if let Command::Watch { poll, poll_interval, .. } = &cli.command {
        config.transport.push = !poll;
        config.transport.poll_interval = poll_interval.map(Duration::from_secs);
    }
    let approver = Approver::open(config).await?;
    let result = approver_command(&out, &approver, cli.command).await;
    warn_key_store(&approver);
    approver.close().await;
    result
}
