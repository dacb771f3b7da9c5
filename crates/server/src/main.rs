//! The `countersign-server` binary: the server and its operator CLI. The CLI
//! lives here, not in the library, so that clap, the terminal QR code and the
//! log subscriber are not dependencies of `countersign_server`.

mod cli;

// mimalloc, for the server's allocations under load (docs/performance.md,
// "No savepoint for the hot paths' jobs, and mimalloc"); on Linux with
// glibc also SQLite's and every C library's, since it replaces `malloc`
// there (Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
