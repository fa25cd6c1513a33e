//! `booking-http`: serves the booking API.

use std::{process::ExitCode, sync::Arc};

use booking_core::clock::SystemClock;
use booking_http::{cli::Cli, startup::Application, telemetry};
use clap::Parser;

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the error and its causes.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings()?;
    let database = settings.database.clone();
    let application = Application::build(settings, Arc::new(SystemClock))?;
    tracing::info!(%database, "listening on http://{}", application.address());
    application.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}
