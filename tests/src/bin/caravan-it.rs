//! The `caravan` CLI, built inside this package so the end-to-end tests can run it.

fn main() -> std::process::ExitCode {
    caravan_sdk::cli::main()
}
