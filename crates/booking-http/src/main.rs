//! `booking-http`: serves the booking API.

use std::{process::ExitCode, sync::Arc};

use booking_core::clock::SystemClock;
use booking_http::{
    cli::{Cli, Command},
    config::Settings,
    startup::{self, Application},
    telemetry,
};
use booking_store::{DatabaseUrl, SqliteRepository};

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::load();
    telemetry::init(cli.log_format);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the error and its causes.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(mut cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.take();
    let settings = cli.settings()?;
    match command {
        Some(Command::Backup { to }) => {
            let DatabaseUrl::Sqlite(path) = &settings.database else {
                anyhow::bail!(
                    "backup copies SQLite databases; back up PostgreSQL with its own tools (pg_dump, or continuous archiving)"
                );
            };
            SqliteRepository::backup(path, &to, &settings.store)?;
            println!("backed up {} to {}", settings.database, to.display());
            return Ok(());
        }
        Some(Command::Migrate) => {
            let applied = booking_store::migrate(&settings.database, &settings.store)?;
            println!(
                "{}: {applied} migrations applied; the schema is up to date",
                settings.database
            );
            return Ok(());
        }
        Some(Command::Check) => return check(settings),
        None => {}
    }
    let database = settings.database.clone();
    let application = Application::build(settings, Arc::new(SystemClock))?;
    tracing::info!(%database, "listening on http://{}", application.address());
    application.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

/// `booking-http check`: one line per stranded appointment on stdout (for the operator, not
/// the logs: ids are capabilities).
fn check(settings: Settings) -> anyhow::Result<()> {
    let database = settings.database.clone();
    let (schedule, stranded) = startup::stranded(settings, Arc::new(SystemClock))?;
    for found in &stranded {
        let start = found.appointment.slot().start().with_timezone(&schedule.time_zone());
        println!(
            "{id}  {resource}  {start}  {strand}",
            id = found.appointment.id(),
            resource = found.appointment.resource(),
            start = start.format("%Y-%m-%d %H:%M %Z"),
            strand = found.strand,
        );
    }
    match stranded.len() {
        0 => {
            println!(
                "{database}: these settings place every appointment that has not ended where it was booked"
            );
            Ok(())
        }
        n => anyhow::bail!(
            "these settings do not place the {n} appointment(s) above where they were booked; move or cancel them with the settings they were booked under, then change the settings"
        ),
    }
}
