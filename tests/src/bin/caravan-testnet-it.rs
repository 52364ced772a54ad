//! The testnet executable, built inside this package so the end-to-end tests can start node
//! processes with it.

fn main() -> anyhow::Result<()> {
    caravan_testnet::cli::main()
}
