//! The load: the `wrk` Lua scripts (unique bodies per request) and the
//! reading of `wrk --latency` output.

use std::path::Path;
use std::process::Command;

use super::http::form_encode;
use super::{Target, CIBA_GRANT, DETAIL};

// --- Load ----------------------------------------------------------------------

/// Client authentication (`client_secret_post`), scope and details.
pub(super) fn common_form(target: &Target) -> String {
    format!(
        "client_id={}&client_secret={}&scope=openid&authorization_details={}",
        form_encode(&target.client.0),
        form_encode(&target.client.1),
        form_encode(DETAIL)
    )
}

/// Appended to every script: wrk tallies the answers by status and OAuth
/// `error` code and prints them at the end (`answer: 400 slow_down = 123`),
/// so that a run answered with errors is not mistaken for a fast one.
const TALLY: &str = r#"
local threads = {}
function setup(thread) table.insert(threads, thread) end
answers = {}
function response(status, headers, body)
  local code = body:match('"error"%s*:%s*"([^"]*)"')
  local key = code and (status .. " " .. code) or tostring(status)
  answers[key] = (answers[key] or 0) + 1
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    for key, n in pairs(t:get("answers")) do io.write("answer: ", key, " = ", n, "\n") end
  end
end
"#;

pub(super) fn lua_string(s: &str) -> String {
    format!("{s:?}")
}

pub(super) fn bc_authorize_script(target: &Target, users: u64) -> String {
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
{TALLY}"#,
        common = lua_string(&common_form(target)),
    )
}

pub(super) fn token_script(target: &Target, ids: &[String]) -> String {
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
{TALLY}"#,
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
pub(super) struct Wrk {
    pub(super) rps: f64,
    pub(super) p50_ms: f64,
    pub(super) p99_ms: f64,
    pub(super) requests: u64,
    pub(super) non_2xx: u64,
    /// wrk's connect, read, write and timeout errors: a request slower than
    /// wrk's 2 s timeout is counted here, not in the latencies.
    pub(super) socket_errors: u64,
    /// Answers by status and OAuth `error` code (`400 slow_down`), most
    /// frequent first.
    pub(super) answers: Vec<(String, u64)>,
}

impl Wrk {
    pub(super) fn non_2xx_percent(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        self.non_2xx as f64 * 100.0 / self.requests as f64
    }

    pub(super) fn line(&self) -> String {
        format!(
            "{:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, {} requests, {:.1} % non-2xx, {} socket errors; answers: {}",
            self.rps,
            self.p50_ms,
            self.p99_ms,
            self.requests,
            self.non_2xx_percent(),
            self.socket_errors,
            self.answers_summary()
        )
    }

    /// The scripts' tally must count every answer wrk counted, so that an
    /// empty or broken tally is not read as a clean run.
    pub(super) fn check_tally(&self) -> Result<(), String> {
        let tallied: u64 = self.answers.iter().map(|a| a.1).sum();
        if tallied != self.requests {
            return Err(format!("the answer tally counts {tallied} answers, wrk {} requests", self.requests));
        }
        Ok(())
    }

    /// `400 slow_down 99.1 %, 400 authorization_pending 0.9 %`.
    pub(super) fn answers_summary(&self) -> String {
        let total: u64 = self.answers.iter().map(|a| a.1).sum();
        let share = |n: u64| if total == 0 { 0.0 } else { n as f64 * 100.0 / total as f64 };
        self.answers.iter().map(|(key, n)| format!("{key} {:.1} %", share(*n))).collect::<Vec<_>>().join(", ")
    }
}

/// `wrk` against every address at once, each with its share of the
/// connections; the results summed (req/s, counts, answers) or the worst
/// (p50, p99) of them.
pub(super) fn wrk(
    addrs: &[std::net::SocketAddr],
    endpoint: &str,
    script: &Path,
    tag: &str,
    secs: u64,
    connections: u64,
) -> Result<Wrk, String> {
    let share = (connections / addrs.len().max(1) as u64).max(1);
    let runs: Vec<Result<Wrk, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            addrs.iter().map(|addr| scope.spawn(move || wrk_one(*addr, endpoint, script, tag, secs, share))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a wrk thread panicked".into()))).collect()
    });
    let mut all = runs.into_iter().collect::<Result<Vec<_>, _>>()?.into_iter();
    let mut total = all.next().ok_or("no address to load")?;
    for w in all {
        total.rps += w.rps;
        total.p50_ms = total.p50_ms.max(w.p50_ms);
        total.p99_ms = total.p99_ms.max(w.p99_ms);
        total.requests += w.requests;
        total.non_2xx += w.non_2xx;
        total.socket_errors += w.socket_errors;
        for (key, n) in w.answers {
            match total.answers.iter_mut().find(|a| a.0 == key) {
                Some(a) => a.1 += n,
                None => total.answers.push((key, n)),
            }
        }
    }
    total.answers.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(total)
}

fn wrk_one(
    addr: std::net::SocketAddr,
    endpoint: &str,
    script: &Path,
    tag: &str,
    secs: u64,
    connections: u64,
) -> Result<Wrk, String> {
    let url = format!("http://{addr}{endpoint}");
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
    let w = parse_wrk(&text).ok_or_else(|| format!("could not read wrk's output:\n{text}"))?;
    w.check_tally().map_err(|e| format!("{e}:\n{text}"))?;
    Ok(w)
}

pub(super) fn parse_wrk(text: &str) -> Option<Wrk> {
    let field = |prefix: &str| {
        text.lines().map(str::trim).find_map(|l| l.strip_prefix(prefix)).map(|rest| rest.trim().to_owned())
    };
    let rps = field("Requests/sec:")?.parse().ok()?;
    let requests = text.lines().find(|l| l.contains(" requests in "))?.split_whitespace().next()?.parse().ok()?;
    let non_2xx = field("Non-2xx or 3xx responses:").and_then(|n| n.parse().ok()).unwrap_or(0);
    // `Socket errors: connect 0, read 0, write 0, timeout 12`
    let socket_errors = field("Socket errors:")
        .map_or(0, |counts| counts.split(',').filter_map(|c| c.split_whitespace().nth(1)?.parse::<u64>().ok()).sum());
    let mut answers: Vec<(String, u64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("answer: ")?.rsplit_once(" = "))
        .filter_map(|(key, n)| Some((key.to_owned(), n.trim().parse().ok()?)))
        .collect();
    answers.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Some(Wrk {
        answers,
        rps,
        p50_ms: duration_ms(&field("50%")?)?,
        p99_ms: duration_ms(&field("99%")?)?,
        requests,
        non_2xx,
        socket_errors,
    })
}

/// `812.00us`, `12.31ms`, `1.02s` in milliseconds.
pub(super) fn duration_ms(s: &str) -> Option<f64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let text = "Running 15s test @ http://127.0.0.1:9400/token\n  1 threads and 50 connections\n  Latency Distribution\n     50%  812.00us\n     75%    1.20ms\n     90%    2.00ms\n     99%   12.31ms\n  56789 requests in 15.00s, 12.34MB read\n  Socket errors: connect 0, read 2, write 0, timeout 12\n  Non-2xx or 3xx responses: 56789\nRequests/sec:   3785.93\nTransfer/sec:      1.23MB\nanswer: 400 authorization_pending = 89\nanswer: 400 slow_down = 56700\n";
        let w = parse_wrk(text).unwrap();
        assert_eq!((w.requests, w.non_2xx, w.socket_errors), (56789, 56789, 14));
        assert!((w.rps - 3785.93).abs() < 1e-9 && (w.p50_ms - 0.812).abs() < 1e-9 && (w.p99_ms - 12.31).abs() < 1e-9);
        assert!((w.non_2xx_percent() - 100.0).abs() < 1e-9);
        assert_eq!(w.answers_summary(), "400 slow_down 99.8 %, 400 authorization_pending 0.2 %");
        assert_eq!(w.check_tally(), Ok(()), "89 + 56700 answers tallied, 56789 requests");
        let mut short = parse_wrk(text).unwrap();
        short.answers = vec![("400 slow_down".into(), 56700)];
        assert!(short.check_tally().is_err(), "answers missing from the tally");
        let untallied = text.lines().filter(|l| !l.starts_with("answer:")).collect::<Vec<_>>().join("\n");
        assert!(parse_wrk(&untallied).unwrap().check_tally().is_err(), "no tally at all");
        assert!(parse_wrk("Requests/sec: 1\n").is_none(), "no latency distribution: not a wrk --latency output");
    }
}
