use clap::Parser;

use charon::cli::{self, Cli, Command};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match cli::load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("charon: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    charon::telemetry::init(config.log_format, &config.log_level);
    if let Some(Command::Diagnose { json }) = cli.command {
        let report = charon::console::diagnose::run(&config).await;
        if json {
            println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        } else {
            charon::console::diagnose::print_human(&report);
        }
        return if report.ok { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE };
    }
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => charon::serve(config).await,
        Command::Bouncer => charon::bouncer::daemon::run(&config.data_dir).await,
        Command::Node { join, token, token_stdin, name } => cli::run_node(config, join, token, token_stdin, name).await,
        Command::Diagnose { .. } => unreachable!("handled above"),
        Command::Admin { command } => cli::run_admin(config, command).await,
        Command::Unban { address, allow_for } => cli::run_unban(config, &address, allow_for.as_deref()).await,
        Command::Backup { file } => cli::run_backup(config, &file).await,
        Command::Restore { file } => cli::run_restore(config, &file),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("charon: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
