//! `booking-bench`: load for the booking service. It targets a running server (`--url`) or
//! starts one itself on a temporary database, runs a scenario for a while from many keep-alive
//! connections, and reports requests/s, latency percentiles and status counts, as a fraction of
//! the HTTP ceiling measured in the same run, then checks the service's invariants.

mod load;
mod report;
mod scenario;
mod target;

use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};

use crate::{load::Load, report::Report, scenario::Scenario, target::Target};

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Every request books a distinct free slot.
    Book,
    /// Groups of clients race for one slot, slot after slot.
    Contend,
    /// GET /appointment and GET /availability over a pre-filled database.
    Read,
    /// Reads, bookings, cancellations and moves in realistic proportions.
    Mixed,
    /// A minimal actix-web handler parsing the same JSON: the HTTP ceiling.
    Ceiling,
}

/// Load for the booking service.
#[derive(Debug, Parser)]
#[command(name = "booking-bench", version, about)]
struct Args {
    /// The scenario.
    #[arg(value_enum)]
    scenario: Kind,
    /// A running server to load (its rate limit must be off); without it, one is started on a
    /// temporary database.
    #[arg(long)]
    url: Option<String>,
    /// Keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Appointments stored before `read` and `mixed` start (own server only).
    #[arg(long, default_value_t = 100_000)]
    prefill: usize,
    /// A few seconds and a small database: proves the bench works, measures nothing.
    #[arg(long)]
    smoke: bool,
    /// Skip the ceiling measurement that the other scenarios are compared with.
    #[arg(long)]
    no_ceiling: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Only serve the scenario's target (the ceiling handler, or a server of this build on a
    /// temporary database, pre-filled for `read` and `mixed`) and wait, for a load generator
    /// of your own (see `wrk/run.sh`); prints `listening on http://ADDRESS`.
    #[arg(long)]
    serve: bool,
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.smoke {
        args.seconds = args.seconds.min(2);
        args.prefill = args.prefill.min(2_000);
        args.connections = args.connections.min(16);
    }
    if args.serve {
        let target = match args.scenario {
            Kind::Ceiling => Target::ceiling()?,
            kind => Target::own(kind, args.prefill)?,
        };
        println!("listening on http://{}", target.address());
        target.wait();
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let duration = Duration::from_secs(args.seconds);
    let ceiling = match (args.scenario, args.no_ceiling) {
        (Kind::Ceiling, _) | (_, true) => None,
        _ => {
            let ceiling = Target::ceiling()?;
            let load =
                Load::new(Scenario::ceiling(), ceiling.address(), args.connections, duration);
            Some(runtime.block_on(load.run("ceiling"))?.requests_per_second())
        }
    };
    let target = match (&args.url, args.scenario) {
        (_, Kind::Ceiling) => Target::ceiling()?,
        (Some(url), _) => Target::external(url)?,
        (None, _) => {
            Target::own(args.scenario, args.prefill).context("cannot start a server to load")?
        }
    };
    let scenario = runtime.block_on(Scenario::prepare(args.scenario, &target, args.connections))?;
    let load = Load::new(scenario, target.address(), args.connections, duration);
    let outcome = runtime.block_on(load.run(&format!("{:?}", args.scenario).to_lowercase()))?;
    let checks = runtime.block_on(outcome.check(target.address()))?;
    let report = Report::new(args.scenario, args.connections, &outcome, ceiling, checks);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    anyhow::ensure!(report.invariants_hold(), "invariants broken: {:?}", report.problems());
    Ok(())
}
