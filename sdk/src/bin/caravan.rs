//! `caravan`: the user's command line. Key generation, signing and submitting transactions,
//! transaction status, fetching proof bundles, and verifying a bundle offline against a genesis.

fn main() -> std::process::ExitCode {
    caravan_sdk::cli::main()
}
