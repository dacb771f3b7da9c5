//! `countersign-test-postgres [--durable] -- COMMAND [ARGS...]`: runs
//! COMMAND with a throwaway PostgreSQL cluster ([`PostgresCluster`]; with
//! `--durable`, PostgreSQL's durable defaults) named in
//! `COUNTERSIGN_TEST_POSTGRES` (its `postgres` database), so that every test
//! server it starts is on PostgreSQL, then stops and deletes the cluster.
//! Exits with COMMAND's status. `cargo xtask test` runs the server's suite
//! through it, `cargo xtask bench-server` its PostgreSQL runs.

use std::process::ExitCode;

use countersign_server::testing::postgres::PostgresCluster;
use countersign_server::testing::ENV_POSTGRES;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let durable = args.first().is_some_and(|a| a == "--durable");
    if durable {
        args.remove(0);
    }
    if args.first().is_some_and(|a| a == "--") {
        args.remove(0);
    }
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: countersign-test-postgres [--durable] -- COMMAND [ARGS...]");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("countersign-test-postgres: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let started = if durable { PostgresCluster::start_durable().await } else { PostgresCluster::start().await };
        let cluster = match started {
            Ok(cluster) => cluster,
            Err(e) => {
                eprintln!("countersign-test-postgres: {e}");
                return ExitCode::FAILURE;
            }
        };
        eprintln!("countersign-test-postgres: a throwaway cluster on 127.0.0.1:{}", cluster.port());
        let child = std::process::Command::new(program).args(rest).env(ENV_POSTGRES, cluster.url("postgres")).spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => {
                eprintln!("countersign-test-postgres: running {program}: {e}");
                return ExitCode::FAILURE;
            }
        };
        // Ctrl-C reaches the command too (one process group): it ends, then
        // the cluster is stopped on the way out. SIGTERM and SIGHUP stop the
        // command (SIGKILL, std's only signal: its own children are left to
        // fail on the stopped cluster), then the cluster likewise.
        use tokio::signal::unix::{signal, SignalKind};
        let (mut terminate, mut hangup) = match (signal(SignalKind::terminate()), signal(SignalKind::hangup())) {
            (Ok(t), Ok(h)) => (t, h),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("countersign-test-postgres: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) => {}
                Err(e) => break Err(e),
            }
            tokio::select! {
                _ = tick.tick() => {}
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {
                    let _ = child.kill();
                }
                _ = hangup.recv() => {
                    let _ = child.kill();
                }
            }
        };
        drop(cluster);
        match status {
            Ok(s) if s.success() => ExitCode::SUCCESS,
            Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(1)).unwrap_or(1)),
            Err(e) => {
                eprintln!("countersign-test-postgres: waiting for {program}: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
