//! `countersign-mcp`: see the library's documentation.

fn main() -> std::process::ExitCode {
    countersign_mcp::cli::main()
}
