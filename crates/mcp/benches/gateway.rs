//! The gateway's cost on an ungated call (not a timed test):
//! `cargo bench -p countersign-mcp --bench gateway` (needs Node.js and
//! `npm ci` in tests/interop).
//!
//! An rmcp client calls `list_allowed_directories` of
//! `@modelcontextprotocol/server-filesystem` (no disk access: the call's
//! cost is the round trip) N times directly, then N times through the
//! `countersign-mcp` binary with a policy allowing it (its client
//! registration done at start against an in-process countersign-server),
//! one call at a time, and prints p50, p99 and mean latency of both, the
//! added latency, and the gateway's resident memory after the run.
//! `COUNTERSIGN_BENCH_CALLS` (default 2,000) sets N; 200 warm-up calls
//! precede each run.

use countersign_server::testing::{spawn_test_server, TestOptions};
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;
use rmcp::ServiceExt as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const GATEWAY: &str = env!("CARGO_BIN_EXE_countersign-mcp");
const WARM_UP: usize = 200;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("gateway: run with `cargo bench -p countersign-mcp --bench gateway`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(run());
}

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `calls` sequential calls through `command`'s MCP server: the sorted
/// latencies and the server process's id.
async fn measure(command: tokio::process::Command, calls: usize) -> (Vec<Duration>, Option<u32>) {
    let transport = TokioChildProcess::new(command).expect("the MCP server starts");
    let pid = transport.id();
    let client = ().serve(transport).await.expect("initialize");
    let call = || client.peer().call_tool(CallToolRequestParams::new("list_allowed_directories"));
    for _ in 0..WARM_UP {
        let r = call().await.expect("call");
        assert_ne!(r.is_error, Some(true), "{r:?}");
    }
    let mut latencies = Vec::with_capacity(calls);
    for _ in 0..calls {
        let start = Instant::now();
        let r = call().await.expect("call");
        latencies.push(start.elapsed());
        assert_ne!(r.is_error, Some(true), "{r:?}");
    }
    latencies.sort();
    let rss = pid.and_then(rss_kib);
    if let Some(kib) = rss {
        println!("  resident memory of pid {}: {:.1} MiB", pid.unwrap_or(0), kib as f64 / 1024.0);
    }
    let _ = client.cancel().await;
    (latencies, pid)
}

/// VmRSS of `pid`, KiB (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn report(name: &str, l: &[Duration]) -> (Duration, Duration, f64) {
    let mean = l.iter().map(|d| ms(*d)).sum::<f64>() / l.len() as f64;
    let (p50, p99) = (percentile(l, 0.50), percentile(l, 0.99));
    println!("{name:>10}: p50 {:.3} ms, p99 {:.3} ms, mean {mean:.3} ms ({} calls)", ms(p50), ms(p99), l.len());
    (p50, p99, mean)
}

async fn run() {
    let calls: usize = std::env::var("COUNTERSIGN_BENCH_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000);
    let fs_server = interop_dir().join("node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");
    assert!(fs_server.is_file(), "run `npm ci` in tests/interop first");
    println!(
        "machine: {} cores; countersign-mcp {}; node {}",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        env!("CARGO_PKG_VERSION"),
        String::from_utf8_lossy(&std::process::Command::new("node").arg("--version").output().expect("node").stdout)
            .trim()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let files = dir.path().join("files");
    std::fs::create_dir(&files).expect("files");

    // Directly.
    let mut direct = tokio::process::Command::new("node");
    direct.arg(&fs_server).arg(&files);
    println!("direct: node server-filesystem");
    let (d, _) = measure(direct, calls).await;

    // Through the gateway.
    let server = spawn_test_server(TestOptions::default()).await.expect("test server");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[approval]\nissuer = \"{}\"\nlogin_hint = \"zoe\"\n[[tool]]\nname = \"list_allowed_directories\"\naction = \"allow\"\n",
            server.base_url
        ),
    )
    .expect("policy");
    let mut gateway = tokio::process::Command::new(GATEWAY);
    gateway
        .arg("serve")
        .arg("--policy")
        .arg(&policy)
        .arg("--data-dir")
        .arg(dir.path().join("gateway"))
        .arg("--")
        .arg("node")
        .arg(&fs_server)
        .arg(&files);
    println!("gateway: countersign-mcp in front of node server-filesystem");
    let (g, _) = measure(gateway, calls).await;

    println!();
    let (dp50, dp99, dmean) = report("direct", &d);
    let (gp50, gp99, gmean) = report("gateway", &g);
    println!(
        "     added: p50 {:+.3} ms, p99 {:+.3} ms, mean {:+.3} ms",
        ms(gp50) - ms(dp50),
        ms(gp99) - ms(dp99),
        gmean - dmean
    );
}
