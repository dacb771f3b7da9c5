//! `countersign-cli`: see the library docs.

fn main() -> std::process::ExitCode {
    countersign_cli::run()
}
