//! The `countersign-server` binary: the server and its operator CLI.

fn main() -> std::process::ExitCode {
    countersign_server::cli::main()
}
