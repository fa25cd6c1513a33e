//! What each request of a scenario asks for.

use std::sync::Arc;

use anyhow::Context;
use chrono::{Duration, NaiveDate};
use serde_json::json;

use crate::{
    Kind,
    load::{Client, Request},
    target::{self, Target},
};

/// Appointments a read scenario books first on a server it did not fill.
const READ_FIXTURE: u64 = 500;

/// A scenario's request generator.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Which scenario.
    pub kind: Kind,
    first_day: NaiveDate,
    resources: Arc<Vec<String>>,
    ids: Arc<Vec<String>>,
    /// Clients per slot in `contend`.
    pub group: u64,
}

impl Scenario {
    /// The ceiling: the same booking body, against the minimal handler.
    pub fn ceiling() -> Self {
        Self {
            kind: Kind::Ceiling,
            first_day: chrono::Utc::now().date_naive(),
            resources: Arc::new(vec!["default".to_owned()]),
            ids: Arc::default(),
            group: 1,
        }
    }

    /// The scenario against `target`, with its fixture in place.
    pub async fn prepare(kind: Kind, target: &Target, connections: usize) -> anyhow::Result<Self> {
        let mut ids = target.prefilled.clone();
        let mut first_day = target.first_day;
        let mut client = Client::connect(target.address()).await?;
        let resources = match target.resources.as_slice() {
            [] => client.resources().await?,
            known => known.to_vec(),
        };
        if matches!(kind, Kind::Read | Kind::Mixed) && ids.is_empty() {
            let mut n = 0;
            while (ids.len() as u64) < READ_FIXTURE {
                let response = client.send(booking(first_day, &resources, n)).await?;
                n += 1;
                match response.status {
                    201 => {
                        ids.push(response.appointment_id().context("a booking's answer has no id")?)
                    }
                    // Taken by an earlier run: the next slot will do.
                    409 => {}
                    status => anyhow::bail!("fixture booking answered {status}"),
                }
            }
            first_day += Duration::days(target::days_for(n, resources.len()) + 1);
        }
        Ok(Self {
            kind,
            first_day,
            resources: Arc::new(resources),
            ids: Arc::new(ids),
            group: connections as u64,
        })
    }

    /// The slot the `n`-th request of a booking scenario aims at, and that request.
    pub fn request(&self, n: u64) -> (Option<u64>, Request) {
        match self.kind {
            Kind::Ceiling => (None, booking(self.first_day, &self.resources, n)),
            Kind::Book => (Some(n), booking(self.first_day, &self.resources, n)),
            Kind::Contend => {
                (Some(n / self.group), booking(self.first_day, &self.resources, n / self.group))
            }
            Kind::Read => (None, self.read(n)),
            Kind::Mixed => match n % 20 {
                0..=13 => (None, self.read(n)),
                14..=17 => (Some(n), booking(self.first_day, &self.resources, n)),
                18 => (None, Request::post(&format!("/cancel/{}", self.id(n)), None)),
                _ => {
                    // Far ahead of everything else this run books.
                    // On the appointment's own resource, whichever it is: try the same index.
                    let (date, time, _) =
                        target::slot(self.first_day + Duration::days(3_650), &self.resources, n);
                    let body =
                        json!({"date": date.to_string(), "time": time.format("%H:%M").to_string()});
                    (None, Request::post(&format!("/reschedule/{}", self.id(n)), Some(body)))
                }
            },
        }
    }

    fn id(&self, n: u64) -> &str {
        &self.ids[(n.wrapping_mul(2_654_435_761) % self.ids.len().max(1) as u64) as usize]
    }

    /// Half the reads fetch one appointment, half list a week of one resource's slots (a
    /// booking page).
    fn read(&self, n: u64) -> Request {
        if n.is_multiple_of(2) {
            Request::get(&format!("/appointment/{}", self.id(n)))
        } else {
            let from = self.first_day - Duration::days(1 + (n / 2 % 60) as i64);
            let resource = &self.resources[(n / 2 % self.resources.len() as u64) as usize];
            Request::get(&format!(
                "/availability?from={from}&to={}&resource={resource}",
                from + Duration::days(6)
            ))
        }
    }
}

/// A booking of the `n`-th slot from `first_day`.
fn booking(first_day: NaiveDate, resources: &[String], n: u64) -> Request {
    let (date, time, resource) = target::slot(first_day, resources, n);
    let body = json!({
        "client_name": "Load Test",
        "date": date.to_string(),
        "time": time.format("%H:%M").to_string(),
        "resource": resource,
    });
    Request::post("/schedule", Some(body))
}
