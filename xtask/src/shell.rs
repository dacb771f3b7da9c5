//! Running commands visibly: every step says what it runs before running it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
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

/// Where programs are looked for after PATH: Debian's PATH for users other
/// than root has no sbin directory, yet `useradd` and `chpasswd` (the polkit
/// test's, which runs as root) live in /usr/sbin; without these they would
/// show as missing and be installed again.
const SYSTEM_DIRS: &[&str] = &["/usr/sbin", "/sbin"];

/// True when `program` can be found on PATH, or in /usr/sbin or /sbin.
pub fn on_path(program: &str) -> bool {
    let system: Vec<&Path> = SYSTEM_DIRS.iter().map(Path::new).collect();
    find(program, std::env::var_os("PATH").as_deref(), &system).is_some()
}

/// `program` in the directories of `path` (a PATH value), then in `system`.
fn find(program: &str, path: Option<&OsStr>, system: &[&Path]) -> Option<PathBuf> {
    let on_path: Vec<PathBuf> = path.map(|paths| std::env::split_paths(paths).collect()).unwrap_or_default();
    on_path
        .into_iter()
        .chain(system.iter().map(|dir| dir.to_path_buf()))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new empty directory under the system's temporary one.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-shell-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    }

    #[test]
    fn a_program_outside_path_is_found_in_the_system_directories() {
        let (bin, sbin) = (scratch("bin"), scratch("sbin"));
        std::fs::write(sbin.join("useradd"), "").expect("a program");
        std::fs::write(bin.join("both"), "").expect("a program");
        std::fs::write(sbin.join("both"), "").expect("a program");
        let path = std::env::join_paths([&bin]).expect("a PATH");
        let system = [sbin.as_path()];
        // Not on PATH (as /usr/sbin is not on a non-root user's PATH), found after it.
        assert_eq!(find("useradd", Some(&path), &system), Some(sbin.join("useradd")));
        assert_eq!(find("useradd", None, &system), Some(sbin.join("useradd")));
        // PATH first.
        assert_eq!(find("both", Some(&path), &system), Some(bin.join("both")));
        assert_eq!(find("absent", Some(&path), &system), None);
        // A directory of that name is not a program.
        std::fs::create_dir(bin.join("dir")).expect("a directory");
        assert_eq!(find("dir", Some(&path), &system), None);
        let _ = std::fs::remove_dir_all(bin);
        let _ = std::fs::remove_dir_all(sbin);
    }

    #[test]
    fn the_system_directories_are_the_sbin_ones() {
        assert_eq!(SYSTEM_DIRS, ["/usr/sbin", "/sbin"]);
        // On a machine with useradd in /usr/sbin, a PATH without it still finds it.
        if Path::new("/usr/sbin/useradd").is_file() {
            let system: Vec<&Path> = SYSTEM_DIRS.iter().map(Path::new).collect();
            let path = OsStr::new("/usr/bin:/bin");
            assert_eq!(find("useradd", Some(path), &system), Some(PathBuf::from("/usr/sbin/useradd")));
        }
    }
}
