//! `switchyard` command line: `serve` runs the switch, `import FILE` loads a
//! dialplan into the store and exits, `key create|list|revoke` manages API keys,
//! `payment confirm` confirms a merchant's upgrade payment, `cert dev` writes a
//! development TLS pair.

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
    if matches!(cli.command, Command::Key { .. } | Command::Payment { .. }) {
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
        Command::Payment {
            action: switchyard::config::PaymentCommand::Confirm(a),
        } => {
            let store = switchyard::server::open_store(&a.store).await?;
            let done = switchyard::http::merchant_admin::confirm_json(&store, &a.payment_id).await;
            store.close().await;
            match done {
                Ok(Some(v)) => println!("{v}"),
                Ok(None) => {
                    eprintln!("switchyard payment: no payment {:?}", a.payment_id);
                    std::process::exit(2);
                }
                Err(e) => {
                    eprintln!("switchyard payment: {e}");
                    std::process::exit(2);
                }
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
