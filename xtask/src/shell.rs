//! Running commands visibly: every step says what it runs before running it.

use std::path::Path;
use std::process::Command;

pub fn step(title: &str) {
    println!("\n==> {title}");
}

/// Runs `program args…` in `dir`, echoing it; a non-zero exit is an error.
pub fn exec(dir: &Path, program: &str, args: &[&str]) -> Result<(), String> {
    exec_command(Command::new(program).args(args).current_dir(dir))
}

pub fn exec_command(command: &mut Command) -> Result<(), String> {
    println!("    $ {}", describe(command));
    let status = command.status().map_err(|error| format!("could not start `{}`: {error}", describe(command)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", describe(command)))
    }
}

/// True when `program` can be found on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}
