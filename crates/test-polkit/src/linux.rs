//! The private polkit world and the pseudo-terminal (Linux).

use crate::Skip;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// The test user's name (created if absent, and kept).
pub const TEST_USER: &str = "cs-polkit-test";

const POLKITD: &str = "/usr/lib/polkit-1/polkitd";
const AGENT_HELPER: &str = "/usr/lib/polkit-1/polkit-agent-helper-1";
const ACTIONS_DIR: &str = "/usr/share/polkit-1/actions";
const RULES_DIR: &str = "/etc/polkit-1/rules.d";
const POLKIT_NAME: &str = "org.freedesktop.PolicyKit1";
/// The programs' PATH, in the namespace and for the test user.
const STANDARD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// How long the bus and polkitd may take to come up.
const STARTUP: Duration = Duration::from_secs(15);

/// Runs in the new mount namespace (`unshare` execs it): the private
/// /run/dbus and the test's actions and rules, then holds the namespace
/// until its standard input closes. `mkdir -p` only matters on a host
/// without /run/dbus, where it leaves an empty directory.
const HOLDER_SCRIPT: &str = r#"set -e
mkdir -p /run/dbus
mount -t tmpfs -o mode=0755,size=1m countersign-test-polkit /run/dbus
mount --bind "$1" /usr/share/polkit-1/actions
mount --bind "$2" /etc/polkit-1/rules.d
echo ready
exec cat >/dev/null
"#;

/// One world at a time in a test process: they would share the test user,
/// and two at once only load the machine.
static SERIAL: Mutex<()> = Mutex::new(());

/// The test user, made once per test process.
static USER: OnceLock<Result<TestUser, String>> = OnceLock::new();

/// What the private polkit knows.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Action files, `(file name, XML)`: the namespace's
    /// /usr/share/polkit-1/actions has these and nothing else.
    pub actions: Vec<(String, String)>,
    /// Rules, `(file name, JavaScript)`: the namespace's
    /// /etc/polkit-1/rules.d (/usr/share/polkit-1/rules.d stays the host's).
    pub rules: Vec<(String, String)>,
}

/// The non-root user commands run as.
#[derive(Clone)]
pub struct TestUser {
    /// Its name ([`TEST_USER`]).
    pub name: String,
    /// Its uid, never 0.
    pub uid: u32,
    /// Its primary group.
    pub gid: u32,
    password: String,
}

impl TestUser {
    /// Its password (random, set for this test process).
    #[must_use]
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for TestUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TestUser({}, uid {}, gid {})", self.name, self.uid, self.gid)
    }
}

/// The programs, found before anything starts.
#[derive(Debug, Clone)]
struct Programs {
    unshare: PathBuf,
    setpriv: PathBuf,
    dbus_daemon: PathBuf,
    dbus_send: PathBuf,
    useradd: PathBuf,
    chpasswd: PathBuf,
}

/// A private system bus and polkitd, and a test user. Dropping it stops
/// them (also when the test panics).
pub struct World {
    user: TestUser,
    dir: tempfile::TempDir,
    holder: Child,
    holder_stdin: Option<ChildStdin>,
    namespace: File,
    bus: Option<Child>,
    polkitd: Option<Child>,
    setpriv: PathBuf,
    _serial: MutexGuard<'static, ()>,
}

impl fmt::Debug for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "World({}, {:?})", self.dir.path().display(), self.user)
    }
}

impl World {
    /// Starts a private polkit with `options`' actions and rules.
    ///
    /// # Errors
    /// [`Skip`] when this machine cannot run it: not root, a program
    /// missing, no mount namespace.
    ///
    /// # Panics
    /// When a prerequisite is there but something fails (the test user,
    /// the bus or polkitd not starting): a failure, not a skip.
    pub fn start(options: &Options) -> Result<Self, Skip> {
        let serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        let programs = prerequisites()?;
        let user = match USER.get_or_init(|| make_test_user(&programs)) {
            Ok(user) => user.clone(),
            Err(e) => panic!("the test user {TEST_USER}: {e}"),
        };
        let dir = world_dir(&user, options).unwrap_or_else(|e| panic!("the world's directory: {e}"));
        let (holder, holder_stdin) = hold_namespace(&programs, dir.path())?;
        let namespace = File::open(format!("/proc/{}/ns/mnt", holder.id()))
            .unwrap_or_else(|e| panic!("the namespace of the holder {}: {e}", holder.id()));
        let mut world = World {
            user,
            dir,
            holder,
            holder_stdin: Some(holder_stdin),
            namespace,
            bus: None,
            polkitd: None,
            setpriv: programs.setpriv.clone(),
            _serial: serial,
        };
        world.start_bus(&programs);
        world.start_polkitd(&programs);
        Ok(world)
    }

    /// The user commands run as.
    #[must_use]
    pub fn user(&self) -> &TestUser {
        &self.user
    }

    /// What polkitd wrote (its errors: it runs with `--no-debug`).
    #[must_use]
    pub fn polkitd_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("polkitd.log")).unwrap_or_default()
    }

    /// A copy of `program` the test user can run (the build's own
    /// directory is usually root's only), in the world's directory.
    ///
    /// # Panics
    /// When it cannot be copied.
    #[must_use]
    pub fn install_program(&self, program: &Path) -> PathBuf {
        let name = program.file_name().unwrap_or_else(|| panic!("{} has no file name", program.display()));
        let copy = self.dir.path().join("bin").join(name);
        fs::copy(program, &copy).unwrap_or_else(|e| panic!("copying {}: {e}", program.display()));
        set_mode(&copy, 0o755).unwrap_or_else(|e| panic!("{e}"));
        copy
    }

    /// `program args` as the test user, in the private polkit's namespace:
    /// `setpriv` drops to the user (real, effective and saved ids) and
    /// execs the program. The environment is only `PATH`, `HOME` (a
    /// directory of the user's in the world), `USER`, `LOGNAME`, `LANG=C`,
    /// `TERM=dumb` and `envs`: nothing of the test's own environment
    /// reaches it.
    fn user_command(&self, program: &Path, args: &[&str], envs: &[(&str, &str)]) -> Command {
        let home = self.dir.path().join("home");
        let mut command = Command::new(&self.setpriv);
        command
            .arg("--reuid")
            .arg(self.user.uid.to_string())
            .arg("--regid")
            .arg(self.user.gid.to_string())
            .arg("--init-groups")
            .arg("--")
            .arg(program)
            .args(args)
            .env_clear()
            .env("PATH", STANDARD_PATH)
            .env("HOME", &home)
            .env("USER", &self.user.name)
            .env("LOGNAME", &self.user.name)
            .env("LANG", "C")
            .env("TERM", "dumb")
            .envs(envs.iter().copied())
            .current_dir("/");
        command
    }

    /// Runs `program args` as the test user ([`Self::user_command`]'s
    /// environment), in the private polkit's namespace, on a new
    /// pseudo-terminal that is its controlling terminal (its own session).
    ///
    /// # Panics
    /// When the terminal or the process cannot be made.
    #[must_use]
    pub fn spawn_as_user(&self, program: &Path, args: &[&str], envs: &[(&str, &str)]) -> PtyChild {
        let (master, slave) = open_pty().unwrap_or_else(|e| panic!("openpty: {e}"));
        let stdio = || -> Stdio { Stdio::from(slave.try_clone().unwrap_or_else(|e| panic!("dup: {e}"))) };
        let mut command = self.user_command(program, args, envs);
        command.stdin(stdio()).stdout(stdio()).stderr(stdio());
        let namespace = self.namespace.as_raw_fd();
        // SAFETY: between fork and exec only async-signal-safe calls
        // (setns, setsid, ioctl) on values copied in.
        unsafe {
            command.pre_exec(move || {
                enter_namespace(namespace)?;
                // Its own session, with the pseudo-terminal (now its
                // standard input) as the controlling terminal: what
                // pkttyagent opens as /dev/tty, and where Ctrl-C goes.
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child =
            command.spawn().unwrap_or_else(|e| panic!("running {} as {}: {e}", program.display(), self.user.name));
        drop(slave);
        PtyChild::new(child, master, self.user.password.clone())
    }

    /// Runs `program args` as the test user ([`Self::user_command`]'s
    /// environment), in the private polkit's namespace, without a terminal:
    /// standard input is /dev/null, and its own session has no controlling
    /// terminal (so no text agent, and no /dev/tty). Its output once it
    /// exits.
    ///
    /// # Errors
    /// It did not exit within `timeout` (its process group is then killed),
    /// or it could not be run.
    pub fn output_as_user(
        &self,
        program: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Output, String> {
        let mut command = self.user_command(program, args, envs);
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let namespace = self.namespace.as_raw_fd();
        // SAFETY: between fork and exec only async-signal-safe calls
        // (setns, setsid) on values copied in.
        unsafe {
            command.pre_exec(move || {
                enter_namespace(namespace)?;
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child =
            command.spawn().map_err(|e| format!("running {} as {}: {e}", program.display(), self.user.name))?;
        let read = |from: Option<Box<dyn Read + Send>>| {
            let (sender, receiver) = mpsc::channel();
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut from) = from {
                    let _ = from.read_to_end(&mut bytes);
                }
                let _ = sender.send(bytes);
            });
            receiver
        };
        let stdout = read(child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
        let stderr = read(child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                Ok(None) => {
                    if let Ok(group) = libc::pid_t::try_from(child.id()) {
                        // SAFETY: a signal to the process group this call
                        // created, whose leader is not reaped yet.
                        unsafe { libc::kill(-group, libc::SIGKILL) };
                    }
                    let _ = child.wait();
                    let said = |r: mpsc::Receiver<Vec<u8>>| {
                        String::from_utf8_lossy(&r.recv_timeout(Duration::from_secs(2)).unwrap_or_default())
                            .into_owned()
                    };
                    let (out, err) = (said(stdout), said(stderr));
                    return Err(format!("{} did not exit in {timeout:?}; it wrote:\n{out}{err}", program.display()));
                }
                Err(e) => return Err(format!("waiting for {}: {e}", program.display())),
            }
        };
        // The pipes close when the last process holding them exits (a
        // leftover one is not waited for long).
        let collect =
            |r: mpsc::Receiver<Vec<u8>>| -> Vec<u8> { r.recv_timeout(Duration::from_secs(5)).unwrap_or_default() };
        Ok(Output { status, stdout: collect(stdout), stderr: collect(stderr) })
    }

    fn in_namespace(&self, command: &mut Command) {
        let namespace = self.namespace.as_raw_fd();
        command.env_clear().env("PATH", STANDARD_PATH).env("LANG", "C").current_dir("/");
        // SAFETY: setns only, between fork and exec.
        unsafe {
            command.pre_exec(move || enter_namespace(namespace));
        }
    }

    fn log_file(&self, name: &str) -> File {
        File::create(self.dir.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// `dbus-daemon --system` in the foreground (our child, so it is
    /// stopped by pid), no pid file; ready once it prints its address.
    fn start_bus(&mut self, programs: &Programs) {
        let mut command = Command::new(&programs.dbus_daemon);
        command
            .args(["--system", "--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(self.log_file("dbus-daemon.log"));
        self.in_namespace(&mut command);
        let mut bus = command.spawn().unwrap_or_else(|e| panic!("starting dbus-daemon: {e}"));
        let stdout = bus.stdout.take();
        self.bus = Some(bus);
        let address = stdout.and_then(|stdout| first_line(stdout, STARTUP));
        if address.is_none() {
            let log = fs::read_to_string(self.dir.path().join("dbus-daemon.log")).unwrap_or_default();
            panic!("the private system bus did not start: {log}");
        }
    }

    /// polkitd (it drops to its own user), ready once it owns its name.
    fn start_polkitd(&mut self, programs: &Programs) {
        let log = self.log_file("polkitd.log");
        let log_too = log.try_clone().unwrap_or_else(|e| panic!("dup: {e}"));
        let mut command = Command::new(POLKITD);
        command.arg("--no-debug").stdin(Stdio::null()).stdout(log).stderr(log_too);
        self.in_namespace(&mut command);
        self.polkitd = Some(command.spawn().unwrap_or_else(|e| panic!("starting polkitd: {e}")));
        let deadline = Instant::now() + STARTUP;
        while !self.polkit_has_owner(programs) {
            let exited = self.polkitd.as_mut().and_then(|p| p.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!("polkitd exited ({status}): {}", self.polkitd_log());
            }
            assert!(Instant::now() < deadline, "polkitd did not take its bus name: {}", self.polkitd_log());
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn polkit_has_owner(&self, programs: &Programs) -> bool {
        let mut command = Command::new(&programs.dbus_send);
        command
            .args(["--system", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus"])
            .arg("org.freedesktop.DBus.NameHasOwner")
            .arg(format!("string:{POLKIT_NAME}"))
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        self.in_namespace(&mut command);
        command.output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("boolean true"))
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for daemon in [self.polkitd.take(), self.bus.take()].into_iter().flatten() {
            stop(daemon);
        }
        // End of its input: `cat` ends, and the namespace with it.
        drop(self.holder_stdin.take());
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// SIGTERM, then SIGKILL if it is still there after a while.
fn stop(mut child: Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: signals our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn enter_namespace(namespace: RawFd) -> io::Result<()> {
    // SAFETY: a plain system call on a descriptor we keep open.
    if unsafe { libc::setns(namespace, libc::CLONE_NEWNS) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What the world needs, or why it cannot run here.
fn prerequisites() -> Result<Programs, Skip> {
    // SAFETY: no arguments, no failure.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Skip(
            "the polkit test needs root: it starts its own system bus and polkitd (in a private mount \
             namespace) and creates a non-root test user; run it as root, e.g. sudo -E cargo test -p \
             countersign-cli --test polkit"
                .into(),
        ));
    }
    let find = |name: &str, package: &str| {
        find_program(name).ok_or_else(|| Skip(format!("{name} is missing (Debian package {package})")))
    };
    let programs = Programs {
        unshare: find("unshare", "util-linux")?,
        setpriv: find("setpriv", "util-linux")?,
        dbus_daemon: find("dbus-daemon", "dbus")?,
        dbus_send: find("dbus-send", "dbus")?,
        useradd: find("useradd", "passwd")?,
        chpasswd: find("chpasswd", "passwd")?,
    };
    find("mount", "mount")?;
    find("pkttyagent", "polkitd")?;
    for path in [POLKITD, ACTIONS_DIR, RULES_DIR] {
        if !Path::new(path).exists() {
            return Err(Skip(format!("{path} is missing (Debian package polkitd)")));
        }
    }
    let helper =
        fs::metadata(AGENT_HELPER).map_err(|e| Skip(format!("{AGENT_HELPER}: {e} (Debian package polkitd)")))?;
    if helper.uid() != 0 || helper.mode() & 0o4000 == 0 {
        return Err(Skip(format!("{AGENT_HELPER} is not setuid root: no password can be checked")));
    }
    Ok(programs)
}

/// `name` on PATH or in the usual directories (root's PATH may lack sbin).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(std::env::split_paths(STANDARD_PATH))
        .map(|dir| dir.join(name))
        .find(|candidate| fs::metadata(candidate).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0))
}

/// The test user: made if absent, its password set to a new random one.
fn make_test_user(programs: &Programs) -> Result<TestUser, String> {
    if lookup_user(TEST_USER)?.is_none() {
        let out = Command::new(&programs.useradd)
            .args(["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"])
            .args(["--shell", "/usr/sbin/nologin", "--comment", "Countersign polkit tests", TEST_USER])
            .output()
            .map_err(|e| format!("useradd: {e}"))?;
        if !out.status.success() {
            return Err(format!("useradd: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
    }
    let (uid, gid) = lookup_user(TEST_USER)?.ok_or("useradd made no entry in /etc/passwd")?;
    if uid == 0 {
        return Err("it has uid 0: polkit authorizes root without asking".into());
    }
    let password = random_password()?;
    let mut chpasswd = Command::new(&programs.chpasswd)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("chpasswd: {e}"))?;
    if let Some(mut stdin) = chpasswd.stdin.take() {
        stdin.write_all(format!("{TEST_USER}:{password}\n").as_bytes()).map_err(|e| format!("chpasswd: {e}"))?;
    }
    let out = chpasswd.wait_with_output().map_err(|e| format!("chpasswd: {e}"))?;
    if !out.status.success() {
        return Err(format!("chpasswd: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(TestUser { name: TEST_USER.to_owned(), uid, gid, password })
}

/// `(uid, gid)` of `name` in /etc/passwd.
fn lookup_user(name: &str) -> Result<Option<(u32, u32)>, String> {
    let passwd = fs::read_to_string("/etc/passwd").map_err(|e| format!("/etc/passwd: {e}"))?;
    Ok(passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [user, _, uid, gid, ..] if *user == name => Some((uid.parse().ok()?, gid.parse().ok()?)),
            _ => None,
        }
    }))
}

/// 24 letters and digits from /dev/urandom (no `:`, chpasswd's separator).
fn random_password() -> Result<String, String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 24];
    File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).map_err(|e| format!("/dev/urandom: {e}"))?;
    Ok(bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| format!("{}: {e}", path.display()))
}

/// The world's directory in /tmp (not `TMPDIR`, which may be root's own):
/// `actions/`, `rules/` (read by polkitd's user), `bin/` (the programs
/// the test user runs), `home/` (the test user's).
fn world_dir(user: &TestUser, options: &Options) -> Result<tempfile::TempDir, String> {
    let dir = tempfile::Builder::new().prefix("countersign-polkit-").tempdir_in("/tmp").map_err(|e| format!("{e}"))?;
    set_mode(dir.path(), 0o755)?;
    for (sub, files) in [("actions", &options.actions), ("rules", &options.rules)] {
        let sub = dir.path().join(sub);
        fs::create_dir(&sub).map_err(|e| format!("{}: {e}", sub.display()))?;
        set_mode(&sub, 0o755)?;
        for (name, content) in files {
            let file = sub.join(name);
            fs::write(&file, content).map_err(|e| format!("{}: {e}", file.display()))?;
            set_mode(&file, 0o644)?;
        }
    }
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    set_mode(&bin, 0o755)?;
    let home = dir.path().join("home");
    fs::create_dir(&home).map_err(|e| format!("{}: {e}", home.display()))?;
    std::os::unix::fs::chown(&home, Some(user.uid), Some(user.gid)).map_err(|e| format!("{}: {e}", home.display()))?;
    set_mode(&home, 0o700)?;
    Ok(dir)
}

/// `unshare` running [`HOLDER_SCRIPT`]; returns once the namespace is set
/// up. Failing here is this machine's limit (no namespaces or mounts in a
/// container): a skip.
fn hold_namespace(programs: &Programs, dir: &Path) -> Result<(Child, ChildStdin), Skip> {
    let mut holder = Command::new(&programs.unshare)
        .args(["--mount", "--propagation", "private", "--", "sh", "-c", HOLDER_SCRIPT, "sh"])
        .arg(dir.join("actions"))
        .arg(dir.join("rules"))
        .env_clear()
        .env("PATH", STANDARD_PATH)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Skip(format!("cannot run unshare: {e}")))?;
    let ready = holder.stdout.take().and_then(|stdout| first_line(stdout, STARTUP));
    if ready.as_deref() == Some("ready") {
        if let Some(stdin) = holder.stdin.take() {
            return Ok((holder, stdin));
        }
    }
    let _ = holder.kill();
    let mut said = String::new();
    if let Some(mut stderr) = holder.stderr.take() {
        let _ = stderr.read_to_string(&mut said);
    }
    let _ = holder.wait();
    Err(Skip(format!("cannot make a private mount namespace with its own /run/dbus: {}", said.trim())))
}

/// The first line `from` writes, within `timeout`.
fn first_line(from: impl Read + Send + 'static, timeout: Duration) -> Option<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(from).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver.recv_timeout(timeout).ok()?;
    (!line.is_empty()).then(|| line.trim_end().to_owned())
}

/// A new pseudo-terminal `(master, slave)`, both close-on-exec (the child
/// gets the slave as its standard streams only).
fn open_pty() -> io::Result<(OwnedFd, OwnedFd)> {
    let (mut master, mut slave): (libc::c_int, libc::c_int) = (-1, -1);
    let size = libc::winsize { ws_row: 40, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: out-pointers to locals; no name buffer; default termios.
    if unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openpty gave us these two new descriptors.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [&master, &slave] {
        // SAFETY: fcntl on a descriptor we own.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok((master, slave))
}

/// A process on a pseudo-terminal: what it shows, what to type.
pub struct PtyChild {
    child: Child,
    master: File,
    screen: Arc<Screen>,
    password: String,
    status: Option<ExitStatus>,
}

/// Everything the terminal showed, filled by a reader thread.
#[derive(Default)]
struct Screen {
    state: Mutex<(Vec<u8>, bool)>,
    changed: Condvar,
}

impl Screen {
    fn lock(&self) -> MutexGuard<'_, (Vec<u8>, bool)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for PtyChild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PtyChild({})", self.child.id())
    }
}

impl PtyChild {
    fn new(child: Child, master: OwnedFd, password: String) -> Self {
        let master = File::from(master);
        let screen = Arc::new(Screen::default());
        let mut reader = master.try_clone().unwrap_or_else(|e| panic!("dup: {e}"));
        let filled = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            loop {
                // EIO once no process has the terminal open any more.
                let read = reader.read(&mut buffer);
                let mut state = filled.lock();
                match read {
                    Ok(n) if n > 0 => state.0.extend_from_slice(&buffer[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    _ => state.1 = true,
                }
                let closed = state.1;
                drop(state);
                filled.changed.notify_all();
                if closed {
                    break;
                }
            }
        });
        Self { child, master, screen, password, status: None }
    }

    /// Its pid (`setpriv` execs the program: the program's).
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its real and effective uids now (/proc/PID/status), while it runs:
    /// polkit authenticates the real uid, and root is authorized without
    /// being asked, so a test checks this is the test user.
    ///
    /// # Errors
    /// It has exited, or /proc says nothing readable.
    pub fn uids(&self) -> Result<(u32, u32), String> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .map_err(|e| format!("/proc/{}/status: {e}", self.pid()))?;
        let line = status.lines().find_map(|l| l.strip_prefix("Uid:")).ok_or("no Uid line")?;
        let mut ids = line.split_whitespace().map(str::parse::<u32>);
        match (ids.next(), ids.next()) {
            (Some(Ok(real)), Some(Ok(effective))) => Ok((real, effective)),
            _ => Err(format!("an unreadable Uid line: {line}")),
        }
    }

    /// What the terminal showed so far, the test user's password hidden.
    #[must_use]
    pub fn output(&self) -> String {
        let text = String::from_utf8_lossy(&self.screen.lock().0).into_owned();
        text.replace(&self.password, "<password>")
    }

    /// Waits until the terminal has shown `text`.
    ///
    /// # Errors
    /// It did not within `timeout`, or the terminal closed first: the
    /// message has what it showed.
    pub fn expect(&self, text: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut state = self.screen.lock();
        loop {
            if String::from_utf8_lossy(&state.0).contains(text) {
                return Ok(());
            }
            let closed = state.1;
            let left = deadline.saturating_duration_since(Instant::now());
            if closed || left.is_zero() {
                drop(state);
                let why = if closed { "the terminal closed" } else { "timed out" };
                return Err(format!("{why} waiting for {text:?}; the terminal showed:\n{}", self.output()));
            }
            state = self.screen.changed.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Types `text` and Enter.
    ///
    /// # Errors
    /// Writing to the terminal failed.
    pub fn type_line(&mut self, text: &str) -> io::Result<()> {
        self.master.write_all(format!("{text}\n").as_bytes())?;
        self.master.flush()
    }

    /// Types `secret` and Enter once the terminal stops echoing (the prompt
    /// turned echo off): typed earlier it would be echoed, or flushed by the
    /// prompt's `tcsetattr(TCSAFLUSH)`.
    ///
    /// # Errors
    /// Echo stayed on for `timeout`, or writing failed.
    pub fn type_hidden(&mut self, secret: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while self.echoes()? {
            if Instant::now() >= deadline {
                return Err(format!("the terminal kept echoing; it showed:\n{}", self.output()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.type_line(secret).map_err(|e| format!("typing: {e}"))
    }

    /// Types the test user's password at the prompt ([`Self::type_hidden`]).
    ///
    /// # Errors
    /// As [`Self::type_hidden`].
    pub fn type_password(&mut self, timeout: Duration) -> Result<(), String> {
        let password = self.password.clone();
        self.type_hidden(&password, timeout)
    }

    /// Whether the terminal echoes (the slave's termios, read on the master).
    fn echoes(&self) -> Result<bool, String> {
        // SAFETY: termios is plain data; tcgetattr fills it.
        let mut termios: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: a descriptor we own, a local out-parameter.
        if unsafe { libc::tcgetattr(self.master.as_raw_fd(), &mut termios) } != 0 {
            return Err(format!("tcgetattr: {}", io::Error::last_os_error()));
        }
        Ok(termios.c_lflag & libc::ECHO != 0)
    }

    /// Ctrl-C: SIGINT to the terminal's foreground processes.
    ///
    /// # Errors
    /// Writing to the terminal failed.
    pub fn interrupt(&mut self) -> io::Result<()> {
        self.master.write_all(b"\x03")?;
        self.master.flush()
    }

    /// Sends SIGINT to each process named `name` (its `comm`) among this
    /// process's descendants; their pids.
    ///
    /// # Errors
    /// None was found.
    pub fn interrupt_descendants(&self, name: &str) -> Result<Vec<u32>, String> {
        let pids: Vec<u32> =
            descendants(self.pid()).into_iter().filter(|(_, comm)| comm == name).map(|(p, _)| p).collect();
        if pids.is_empty() {
            return Err(format!("no process {name} under {}; the terminal showed:\n{}", self.pid(), self.output()));
        }
        for pid in &pids {
            if let Ok(pid) = libc::pid_t::try_from(*pid) {
                // SAFETY: a signal to a process of this test's session.
                unsafe { libc::kill(pid, libc::SIGINT) };
            }
        }
        Ok(pids)
    }

    /// Waits for it to exit, and for the terminal to show the rest.
    ///
    /// # Errors
    /// It did not exit within `timeout` (it is then killed).
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, String> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                Ok(None) => {
                    self.kill_session();
                    return Err(format!("it did not exit in {timeout:?}; the terminal showed:\n{}", self.output()));
                }
                Err(e) => return Err(format!("waiting: {e}")),
            }
        };
        self.status = Some(status);
        // The rest of the output: until no one has the terminal open (a
        // leftover process of the session is killed after a while).
        let closed_by = Instant::now() + Duration::from_secs(2);
        let mut state = self.screen.lock();
        while !state.1 {
            let left = closed_by.saturating_duration_since(Instant::now());
            if left.is_zero() {
                drop(state);
                self.kill_session();
                break;
            }
            state = self.screen.changed.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        Ok(status)
    }

    /// SIGKILL to its whole session's process group (it, pkttyagent, the
    /// agent's helper): all started for this test. Called while it runs, or
    /// while a process of its group still holds the terminal (the group's
    /// id stays in use while it has members).
    fn kill_session(&mut self) {
        if let Ok(group) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: a signal to the process group this test created.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
        let _ = self.child.wait();
    }
}

impl Drop for PtyChild {
    fn drop(&mut self) {
        // Only while it is not reaped: its pid, the group's id, cannot have
        // been reused by then.
        if self.status.is_none() && matches!(self.child.try_wait(), Ok(None)) {
            self.kill_session();
        }
    }
}

/// `(pid, comm)` of every descendant of `ancestor`, from /proc.
fn descendants(ancestor: u32) -> Vec<(u32, String)> {
    let mut processes = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else { continue };
        // comm is in parentheses and may contain anything: split at the last `)`.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let comm = stat[open + 1..close].to_owned();
        let Some(ppid) = stat[close + 1..].split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        processes.push((pid, ppid, comm));
    }
    let mut found = Vec::new();
    let mut parents = vec![ancestor];
    while let Some(parent) = parents.pop() {
        for (pid, ppid, comm) in &processes {
            if *ppid == parent {
                found.push((*pid, comm.clone()));
                parents.push(*pid);
            }
        }
    }
    found
}
