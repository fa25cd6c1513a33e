//! The webhook outbox over SQL. Deliveries are queued by the database itself: a trigger on the
//! history (see the `webhooks` migration) inserts one for each subscribed endpoint whenever a
//! write records an entry, in that write's transaction, whichever path the write took (the
//! shared transaction or one of PostgreSQL's one-statement functions). This module registers
//! endpoints, lists deliveries, and claims and settles them for the delivery worker.

use std::{collections::BTreeSet, convert::Infallible};

use booking_core::{
    pending::Pending,
    storage::StorageError,
    webhook::{
        ClaimRequest, Claimed, Delivery, DeliveryId, DeliveryState, Endpoint, EndpointId,
        EndpointNotFound, EventType, MAX_ENDPOINTS, Message, MessageId, Outbox, Secret, Settled,
        Settlement, Subscription, TooManyEndpoints,
    },
};
use chrono::{DateTime, Utc};
use diesel::{prelude::*, sql_types::BigInt};

use super::{
    AnyConnection, SqlRepository, Store, TxError,
    rows::{AppointmentRow, HistoryRow, instant, seconds},
    schema::{appointment_history, appointments, webhook_deliveries, webhook_endpoints},
    storage_error,
};

/// An endpoint as stored.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_endpoints, check_for_backend(super::MultiBackend))]
struct EndpointRow {
    id: String,
    url: String,
    events: Option<String>,
    secret: String,
    created_at: i64,
}

impl From<&Endpoint> for EndpointRow {
    fn from(endpoint: &Endpoint) -> Self {
        let events = match &endpoint.subscription {
            Subscription::All => None,
            Subscription::Only(events) => {
                Some(events.iter().map(|event| event.as_str()).collect::<Vec<_>>().join(","))
            }
        };
        Self {
            id: endpoint.id.to_string(),
            url: endpoint.url.clone(),
            events,
            secret: endpoint.secret.expose().to_owned(),
            created_at: seconds(endpoint.created_at),
        }
    }
}

impl TryFrom<EndpointRow> for Endpoint {
    type Error = StorageError;

    fn try_from(row: EndpointRow) -> Result<Self, StorageError> {
        let events = row
            .events
            .map(|events| {
                events.split(',').map(str::parse).collect::<Result<BTreeSet<EventType>, _>>()
            })
            .transpose()
            .map_err(|e| corrupt("webhook events", e))?;
        Ok(Self {
            id: row.id.parse().map_err(|_| corrupt("webhook id", &row.id))?,
            url: row.url,
            subscription: Subscription::new(events).map_err(|e| corrupt("webhook events", e))?,
            secret: Secret::new(row.secret),
            created_at: instant(row.created_at)?,
        })
    }
}

/// A delivery's own columns, as read back.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries, check_for_backend(super::MultiBackend))]
struct DeliveryRow {
    id: i64,
    entry_id: i64,
    state: String,
    attempts: i32,
    next_attempt_at: Option<i64>,
    last_error: Option<String>,
}

/// The id of a delivery that is due, as the dialect's query finds it.
#[derive(Debug, QueryableByName)]
struct Due {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

fn corrupt(what: &str, value: impl std::fmt::Display) -> StorageError {
    StorageError::fault(format!("stored {what} is invalid: {value}"))
}

fn attempts(count: i32) -> Result<u32, StorageError> {
    u32::try_from(count).map_err(|_| corrupt("attempt count", count))
}

/// Claims the deliveries `request` asks for, counting their attempt and leasing them.
fn claim(
    connection: &mut AnyConnection,
    request: ClaimRequest,
) -> Result<Vec<Claimed>, StorageError> {
    let most = i64::try_from(request.most).unwrap_or(i64::MAX);
    let due: Vec<i64> = diesel::sql_query(connection.dialect().due_deliveries)
        .bind::<BigInt, _>(seconds(request.now))
        .bind::<BigInt, _>(most)
        .load::<Due>(connection)
        .map_err(storage_error)?
        .into_iter()
        .map(|due| due.id)
        .collect();
    if due.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&due)))
        .set((
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
            webhook_deliveries::leased_until.eq(seconds(request.lease_until)),
        ))
        .execute(connection)
        .map_err(storage_error)?;
    let rows: Vec<(i64, i32, EndpointRow, i64, HistoryRow, AppointmentRow)> =
        webhook_deliveries::table
            .inner_join(
                webhook_endpoints::table
                    .on(webhook_endpoints::id.eq(webhook_deliveries::endpoint_id)),
            )
            .inner_join(
                appointment_history::table
                    .on(appointment_history::id.eq(webhook_deliveries::entry_id)),
            )
            .inner_join(
                appointments::table.on(appointments::id.eq(appointment_history::appointment_id)),
            )
            .filter(webhook_deliveries::id.eq_any(&due))
            .order((webhook_deliveries::next_attempt_at, webhook_deliveries::id))
            .select((
                webhook_deliveries::id,
                webhook_deliveries::attempts,
                EndpointRow::as_select(),
                appointment_history::id,
                HistoryRow::as_select(),
                AppointmentRow::as_select(),
            ))
            .load(connection)
            .map_err(storage_error)?;
    let mut claimed = Vec::with_capacity(rows.len());
    for (delivery, attempt, endpoint, entry_id, entry, appointment) in rows {
        let read = (|| {
            let endpoint = Endpoint::try_from(endpoint)?;
            let entry = entry.try_into()?;
            let message =
                Message::of(MessageId(entry_id), &entry, &appointment.into_appointment()?);
            Ok::<_, StorageError>(Claimed {
                delivery: DeliveryId(delivery),
                attempt: attempts(attempt)?,
                endpoint: endpoint.id,
                url: endpoint.url,
                secret: endpoint.secret,
                message,
            })
        })();
        match read {
            Ok(one) => claimed.push(one),
            // A row that cannot be read would be claimed again and again, and hold up its
            // endpoint's later deliveries: it fails for good, saying why.
            Err(unreadable) => {
                tracing::warn!(delivery, error = %unreadable, "a webhook delivery cannot be read");
                give_up(connection, delivery, request.now, &unreadable.to_string())
                    .map_err(storage_error)?;
            }
        }
    }
    Ok(claimed)
}

/// Fails a delivery for good at `now`, with `error` as its last error.
fn give_up(
    connection: &mut AnyConnection,
    delivery: i64,
    now: DateTime<Utc>,
    error: &str,
) -> QueryResult<()> {
    diesel::update(webhook_deliveries::table.find(delivery))
        .set((
            webhook_deliveries::state.eq(DeliveryState::Failed.as_str()),
            webhook_deliveries::next_attempt_at.eq(None::<i64>),
            webhook_deliveries::leased_until.eq(None::<i64>),
            webhook_deliveries::last_error.eq(error),
            webhook_deliveries::settled_at.eq(seconds(now)),
        ))
        .execute(connection)
        .map(drop)
}

/// Forgets at most `most` deliveries settled at or before `by`, first settled first (passing
/// over those another sweep holds); answers how many.
pub(super) fn forget_settled(
    connection: &mut AnyConnection,
    by: DateTime<Utc>,
    most: u32,
) -> QueryResult<u64> {
    let forgotten = diesel::sql_query(connection.dialect().forget_deliveries)
        .bind::<BigInt, _>(seconds(by))
        .bind::<BigInt, _>(i64::from(most))
        .execute(connection)?;
    Ok(forgotten as u64)
}

/// Records `settlement` if it is for the delivery's latest attempt and the delivery is still
/// pending; answers whether it did.
fn settle(connection: &mut AnyConnection, settlement: &Settlement) -> QueryResult<bool> {
    let state = match settlement.settled() {
        Settled::Done => DeliveryState::Delivered,
        Settled::Retry(_) => DeliveryState::Pending,
        Settled::GaveUp => DeliveryState::Failed,
    };
    let target = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(settlement.delivery.0))
        .filter(webhook_deliveries::state.eq(DeliveryState::Pending.as_str()))
        .filter(webhook_deliveries::attempts.eq(i32::try_from(settlement.attempt).unwrap_or(-1)));
    let updated = diesel::update(target)
        .set((
            webhook_deliveries::state.eq(state.as_str()),
            webhook_deliveries::next_attempt_at.eq(settlement.next_attempt_at().map(seconds)),
            webhook_deliveries::leased_until.eq(None::<i64>),
            webhook_deliveries::last_error.eq(settlement.error()),
            webhook_deliveries::settled_at.eq(settlement.settled_at().map(seconds)),
        ))
        .execute(connection)?;
    Ok(updated == 1)
}

impl<S: Store> Outbox for SqlRepository<S> {
    fn add_endpoint(&self, endpoint: Endpoint) -> Pending<Endpoint, TooManyEndpoints> {
        self.store.write(move |connection| {
            // Two registrations on two servers take turns, so neither counts short.
            (connection.dialect().lock_key)(connection, "webhook endpoints")?;
            let registered: i64 = webhook_endpoints::table.count().get_result(connection)?;
            if registered >= i64::try_from(MAX_ENDPOINTS).unwrap_or(i64::MAX) {
                return Err(TxError::refused(TooManyEndpoints));
            }
            diesel::insert_into(webhook_endpoints::table)
                .values(EndpointRow::from(&endpoint))
                .execute(connection)?;
            Ok(endpoint.clone())
        })
    }

    fn endpoints(&self) -> Result<Vec<Endpoint>, StorageError> {
        self.store.read(|connection| {
            webhook_endpoints::table
                .order(webhook_endpoints::seq)
                .select(EndpointRow::as_select())
                .load(connection)
                .map_err(storage_error)?
                .into_iter()
                .map(Endpoint::try_from)
                .collect()
        })
    }

    fn remove_endpoint(&self, id: EndpointId) -> Pending<Endpoint, EndpointNotFound> {
        self.store.write(move |connection| {
            let id = id.to_string();
            let row: EndpointRow = webhook_endpoints::table
                .filter(webhook_endpoints::id.eq(&id))
                .select(EndpointRow::as_select())
                .get_result(connection)
                .optional()?
                .ok_or(TxError::refused(EndpointNotFound))?;
            // Its deliveries go by the cascade.
            diesel::delete(webhook_endpoints::table.filter(webhook_endpoints::id.eq(&id)))
                .execute(connection)?;
            Ok(Endpoint::try_from(row)?)
        })
    }

    fn deliveries(
        &self,
        id: EndpointId,
        most: usize,
    ) -> Result<Option<Vec<Delivery>>, StorageError> {
        self.store.read(|connection| {
            let id = id.to_string();
            let known: bool = diesel::select(diesel::dsl::exists(
                webhook_endpoints::table.filter(webhook_endpoints::id.eq(&id)),
            ))
            .get_result(connection)
            .map_err(storage_error)?;
            if !known {
                return Ok(None);
            }
            let rows: Vec<(DeliveryRow, String, HistoryRow)> = webhook_deliveries::table
                .inner_join(
                    appointment_history::table
                        .on(appointment_history::id.eq(webhook_deliveries::entry_id)),
                )
                .filter(webhook_deliveries::endpoint_id.eq(&id))
                .order(webhook_deliveries::id.desc())
                .limit(i64::try_from(most).unwrap_or(i64::MAX))
                .select((
                    DeliveryRow::as_select(),
                    appointment_history::appointment_id,
                    HistoryRow::as_select(),
                ))
                .load(connection)
                .map_err(storage_error)?;
            rows.into_iter()
                .map(|(row, appointment, entry)| {
                    let entry: booking_core::history::Entry = entry.try_into()?;
                    Ok(Delivery {
                        id: DeliveryId(row.id),
                        message: MessageId(row.entry_id),
                        event: EventType::of(entry.change),
                        appointment: appointment
                            .parse()
                            .map_err(|_| corrupt("appointment id", &appointment))?,
                        event_at: entry.at,
                        state: row.state.parse().map_err(|e| corrupt("delivery state", e))?,
                        attempts: attempts(row.attempts)?,
                        last_error: row.last_error,
                        next_attempt_at: row.next_attempt_at.map(instant).transpose()?,
                    })
                })
                .collect::<Result<_, StorageError>>()
                .map(Some)
        })
    }

    fn claim(&self, request: ClaimRequest) -> Pending<Vec<Claimed>, Infallible> {
        self.store.write(move |connection| Ok(claim(connection, request)?))
    }

    fn settle(&self, settlement: Settlement) -> Pending<bool, Infallible> {
        self.store.write(move |connection| Ok(settle(connection, &settlement)?))
    }
}
