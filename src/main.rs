//! `switchyard` command line: `serve` runs the switch, `import FILE` loads a
//! dialplan into the store and exits, `key create|list|revoke` manages API keys,
//! `cert dev` writes a development TLS pair.

use clap::Parser;

// A faster allocator: the SIP path allocates many small strings (rsip's parse tree).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use switchyard::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt().with_env_filter(
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
    );
    // a key command's stdout is its JSON alone
    if matches!(cli.command, Command::Key { .. }) {
        logs.with_writer(std::io::stderr).init();
    } else {
        logs.init();
    }
    match cli.command {
        Command::Key { action } => {
            if let Err(why) = switchyard::keys::run(action).await {
                eprintln!("switchyard key: {why}");
                std::process::exit(2);
            }
        }
        Command::Cert { action } => {
            if let Err(why) = switchyard::server::cert(action) {
                eprintln!("switchyard cert: {why}");
                std::process::exit(2);
            }
        }
        Command::Serve(args) => switchyard::server::serve(args).await?,
        Command::Import(args) => {
            let store = switchyard::server::open_store(&args.store).await?;
            let report = switchyard::server::import(&store, &args.file).await?;
            println!("{}: {report}", args.file.display());
            store.close().await;
        }
    }
    Ok(())
}
