//! The `countersign-server` binary: the server and its operator CLI. The CLI
//! lives here, not in the library, so that clap, the terminal QR code and the
//! log subscriber are not dependencies of `countersign_server`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
