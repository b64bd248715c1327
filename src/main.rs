use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = tessera::cli::Cli::parse();
    // The server logs at info; admin commands keep stderr quiet unless asked.
    let default = if matches!(cli.command, tessera::cli::Command::Serve { .. }) { "info" } else { "warn" };
    tessera::logctx::init(default);
    std::process::exit(tessera::cli::run(cli));
}
