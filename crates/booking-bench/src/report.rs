//! The report: a table for people, JSON for machines.

use std::{collections::BTreeMap, fmt};

use serde::Serialize;

use crate::{
    Kind,
    load::{Checks, Outcome},
};

/// What a run measured and found.
#[derive(Debug, Serialize)]
pub struct Report {
    scenario: String,
    connections: usize,
    seconds: f64,
    requests: u64,
    requests_per_second: f64,
    ceiling_requests_per_second: Option<f64>,
    fraction_of_ceiling: Option<f64>,
    latency_ms: Latency,
    statuses: BTreeMap<u16, u64>,
    checks: Checks,
}

#[derive(Debug, Serialize)]
struct Latency {
    p50: f64,
    p90: f64,
    p99: f64,
    p99_9: f64,
    max: f64,
}

impl Report {
    /// The report of a run, compared with the ceiling measured in the same run.
    pub fn new(
        kind: Kind,
        connections: usize,
        outcome: &Outcome,
        ceiling: Option<f64>,
        checks: Checks,
    ) -> Self {
        let ms = |quantile: f64| outcome.latency.value_at_quantile(quantile) as f64 / 1000.0;
        let rate = outcome.requests_per_second();
        Self {
            scenario: format!("{kind:?}").to_lowercase(),
            connections,
            seconds: outcome.elapsed.as_secs_f64(),
            requests: outcome.latency.len(),
            requests_per_second: rate,
            ceiling_requests_per_second: ceiling,
            fraction_of_ceiling: ceiling.map(|c| rate / c),
            latency_ms: Latency {
                p50: ms(0.5),
                p90: ms(0.9),
                p99: ms(0.99),
                p99_9: ms(0.999),
                max: outcome.latency.max() as f64 / 1000.0,
            },
            statuses: outcome.statuses.clone(),
            checks,
        }
    }

    /// The broken promises, if any.
    pub fn problems(&self) -> Vec<String> {
        let c = &self.checks;
        [
            (c.server_errors, "5xx answers"),
            (c.unanswered, "unanswered requests"),
            (c.lost_bookings, "acknowledged bookings not found again"),
            (c.overbooked_slots, "slots booked over capacity"),
            (c.slots_without_a_booking, "contended slots that nobody got"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect()
    }

    /// Whether every promise held.
    pub fn invariants_hold(&self) -> bool {
        self.problems().is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scenario        {} ({} connections, {:.1} s)",
            self.scenario, self.connections, self.seconds
        )?;
        writeln!(f, "requests        {} ({:.0}/s)", self.requests, self.requests_per_second)?;
        if let (Some(ceiling), Some(fraction)) =
            (self.ceiling_requests_per_second, self.fraction_of_ceiling)
        {
            writeln!(
                f,
                "http ceiling    {ceiling:.0}/s; this run reached {:.1}% of it",
                fraction * 100.0
            )?;
        }
        let l = &self.latency_ms;
        writeln!(
            f,
            "latency (ms)    p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            l.p50, l.p90, l.p99, l.p99_9, l.max
        )?;
        let statuses: Vec<String> =
            self.statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        writeln!(f, "statuses        {}", statuses.join(", "))?;
        match self.problems().as_slice() {
            [] => write!(
                f,
                "invariants      ok ({} bookings found again)",
                self.checks.bookings_checked
            ),
            problems => write!(f, "invariants      BROKEN: {}", problems.join("; ")),
        }
    }
}
