//! `caravan-testnet`: start a local federation or run the demo.

fn main() -> anyhow::Result<()> {
    caravan_testnet::cli::main()
}
