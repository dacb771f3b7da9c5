//! Approver resource use (Linux; std-only measurement from /proc):
//!
//! 1. memory with 1,000 stored requests: RSS of this process before and
//!    after storing 1,000 realistic requests in a fresh store and listing
//!    them all (no server in the process yet);
//! 2. idle CPU with a connected push channel: the real server runs in the
//!    same process on its own runtime (threads `server-rt`), the approver
//!    on another (threads `approver-rt`); the CPU time and context switches
//!    of the approver's threads are summed over an idle window in which the
//!    server sends its 15 s heartbeats.
//!
//! Run: `cargo bench -p countersign-approver --bench idle`
//! (`COUNTERSIGN_BENCH_IDLE_SECS` sets the idle window, default 60).

use countersign_approver::keys::MemoryKeyStore;
use countersign_approver::{Approver, ApproverConfig, ApproverEvent, ConnectionState, KeyStoreChoice};
use countersign_protocol::device::ApproverRequest;
use countersign_server::testing::{new_user, spawn_test_server, TestOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Clock ticks per second of /proc times (USER_HZ, 100 on Linux).
const USER_HZ: f64 = 100.0;

#[path = "support/procfs.rs"]
mod procfs;

fn status_kib(field: &str) -> u64 {
    procfs::field_kib("/proc/self/status", field)
}

/// utime + stime ticks and voluntary + involuntary context switches of each
/// of this process's threads whose name starts with `prefix`.
fn thread_usage(prefix: &str) -> ThreadUsage {
    let mut usage = ThreadUsage::default();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return usage };
    for task in dir.flatten() {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !comm.trim().starts_with(prefix) {
            continue;
        }
        let mut ticks = 0;
        let mut switches = 0;
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        // Fields after the ")" of the command name: state is field 3, utime 14, stime 15.
        if let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            ticks += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            ticks += f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        for l in status.lines() {
            if let Some(v) =
                l.strip_prefix("voluntary_ctxt_switches:").or(l.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                switches += v.trim().parse::<u64>().unwrap_or(0);
            }
        }
        usage.threads.insert(task.file_name(), (ticks, switches));
    }
    usage
}

/// CPU ticks and context switches per thread (by task id).
#[derive(Default)]
struct ThreadUsage {
    threads: std::collections::HashMap<std::ffi::OsString, (u64, u64)>,
}

impl ThreadUsage {
    /// Ticks and switches from `self` to `later`, per thread: a thread that
    /// ended in between (tokio's blocking threads end after 10 s idle) is
    /// left out, one that started counts from zero. Summing the totals
    /// instead went negative when a thread ended.
    fn until(&self, later: &ThreadUsage) -> (u64, u64) {
        let ended = self.threads.keys().filter(|tid| !later.threads.contains_key(*tid)).count();
        if ended > 0 {
            println!("  ({ended} thread(s) ended during the window: their CPU in it is not counted)");
        }
        later.threads.iter().fold((0, 0), |(t, s), (tid, (t1, s1))| {
            let (t0, s0) = self.threads.get(tid).copied().unwrap_or((0, 0));
            (t + t1.saturating_sub(t0), s + s1.saturating_sub(s0))
        })
    }
}

fn request(i: usize) -> (ApproverRequest, String) {
    let text = include_str!("../../protocol/testdata/device/examples/approver-request.json");
    let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
    v["id"] = format!("req_bench_{i:05}").into();
    v["nonce"] = format!("nonce_bench_{i:010}_abcdefghij").into();
    v["expires_at"] = (4_000_000_000u64 + i as u64).into();
    let json = serde_json::to_string(&v).unwrap();
    (serde_json::from_value(v).unwrap(), json)
}

fn config(dir: &std::path::Path) -> ApproverConfig {
    let mut c = ApproverConfig::new(dir);
    c.key_store = KeyStoreChoice::Custom(Arc::new(MemoryKeyStore::new()));
    c
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("idle: bench");
        return;
    }
    let idle_secs: u64 = std::env::var("COUNTERSIGN_BENCH_IDLE_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let approver_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("approver-rt")
        .enable_all()
        .build()
        .unwrap();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("server-rt")
        .enable_all()
        .build()
        .unwrap();

    // 1. Memory with 1,000 stored requests.
    let mem_dir = tempfile::tempdir().unwrap();
    let rss_start = status_kib("VmRSS:");
    let approver = approver_rt.block_on(Approver::open(config(mem_dir.path()))).unwrap();
    let account = countersign_approver::store::Account {
        id: "acct_bench".into(),
        issuer: countersign_protocol::device::Issuer::new("https://auth.example.com").unwrap(),
        device_endpoint: "https://auth.example.com/device/v1".into(),
        device_id: countersign_protocol::device::DeviceId::new("dev_bench").unwrap(),
        user: countersign_protocol::device::EnrolledUser { sub: "u_1001".into(), name: "Zoë".into(), roles: vec![] },
        poll_interval: 30,
        key_store: countersign_approver::keys::KeyStoreKind::Memory,
        public_jwk: countersign_protocol::jws::DeviceKeyPair::generate().unwrap().public_jwk().clone(),
        last_event_id: None,
        created_at: 0,
    };
    let rss_open = status_kib("VmRSS:");
    let t = Instant::now();
    approver_rt.block_on(async {
        approver.store().insert_account(&account).await.unwrap();
        for chunk in (0..1000).collect::<Vec<_>>().chunks(100) {
            let batch = chunk.iter().map(|&i| request(i)).collect();
            approver.store().insert_requests(&account.id, batch, 1_767_225_600).await.unwrap();
        }
    });
    let store_ms = t.elapsed().as_millis();
    let rss_stored = status_kib("VmRSS:");
    let t = Instant::now();
    let pending = approver_rt.block_on(approver.pending()).unwrap();
    let list_ms = t.elapsed().as_millis();
    assert_eq!(pending.len(), 1000);
    let rss_listed = status_kib("VmRSS:");
    drop(pending);
    let rss_after_drop = status_kib("VmRSS:");
    let db_bytes: u64 = std::fs::read_dir(mem_dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("approver.sqlite3"))
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();
    approver_rt.block_on(approver.close());
    drop(approver);

    println!("memory, 1,000 stored requests (example request of docs/protocol.md, ~1.3 KB JSON each)");
    println!("  RSS before opening the approver        {rss_start:>8} KiB");
    println!("  RSS after opening (store, HTTP client) {rss_open:>8} KiB");
    println!("  RSS after storing 1,000 requests       {rss_stored:>8} KiB  ({store_ms} ms, 10 transactions)");
    println!("  RSS while holding all 1,000 (pending)  {rss_listed:>8} KiB  ({list_ms} ms to load and parse)");
    println!("  RSS after dropping the list            {rss_after_drop:>8} KiB");
    println!("  peak RSS so far (VmHWM)                {:>8} KiB", status_kib("VmHWM:"));
    println!("  SQLite files                           {:>8} KiB", db_bytes / 1024);

    // 2. Idle CPU with a connected push channel.
    let server = server_rt.block_on(spawn_test_server(TestOptions::default())).unwrap();
    let uri = server_rt.block_on(async {
        server.create_user(&new_user("zoe", "Zoë")).await;
        server.invitation("zoe", 600).await
    });
    let idle_dir = tempfile::tempdir().unwrap();
    let approver = approver_rt.block_on(Approver::open(config(idle_dir.path()))).unwrap();
    let run = approver_rt.block_on(async {
        let mut events = approver.subscribe();
        let run = approver.start().await.unwrap();
        approver.enroll(&uri).await.unwrap();
        loop {
            if let Ok(ApproverEvent::Connection { state: ConnectionState::Push, .. }) = events.recv().await {
                break;
            }
        }
        run
    });
    // Let the reconciling poll and the first delivery pass finish.
    std::thread::sleep(Duration::from_secs(2));
    let approver0 = thread_usage("approver-rt");
    let server0 = thread_usage("server-rt");
    let threads = approver0.threads.len();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(idle_secs));
    let secs = start.elapsed().as_secs_f64();
    let (ticks, switches) = approver0.until(&thread_usage("approver-rt"));
    let (server_ticks, _) = server0.until(&thread_usage("server-rt"));
    let cpu = ticks as f64 / USER_HZ;
    println!("idle with a connected push channel ({secs:.0} s window, server heartbeat every 15 s)");
    println!(
        "  approver threads ({threads}): {cpu:.2} s CPU = {:.3} % of one core; {} context switches ({:.2}/s)",
        100.0 * cpu / secs,
        switches,
        switches as f64 / secs
    );
    println!("  (server threads, same process: {:.2} s CPU)", server_ticks as f64 / USER_HZ);
    approver_rt.block_on(run.shutdown());
    server_rt.block_on(server.stop());
}
