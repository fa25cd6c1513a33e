//! The in-memory store's webhook outbox: endpoints and deliveries behind the store's one lock,
//! so the deliveries of a change are queued in the same step as the change.

use std::{collections::BTreeMap, convert::Infallible};

use chrono::{DateTime, Utc};

use super::{InMemoryRepository, State};
use crate::{
    appointment::AppointmentId,
    history::Entry,
    pending::Pending,
    storage::{StorageError, WriteError},
    webhook::{
        ClaimRequest, Claimed, Delivery, DeliveryId, DeliveryState, Endpoint, EndpointId,
        EndpointNotFound, EventType, MAX_ENDPOINTS, Message, MessageId, Outbox, Settled,
        Settlement, TooManyEndpoints,
    },
};

/// Endpoints and their deliveries.
#[derive(Debug, Default)]
pub(super) struct Queue {
    /// In the order they were registered.
    endpoints: Vec<Endpoint>,
    deliveries: BTreeMap<DeliveryId, Queued>,
    /// The last history entry numbered (entries are numbered as every store numbers them).
    entries: i64,
    /// The last delivery numbered.
    queued: i64,
}

/// One entry queued for one endpoint.
#[derive(Debug)]
struct Queued {
    endpoint: EndpointId,
    message: MessageId,
    appointment: AppointmentId,
    entry: Entry,
    state: DeliveryState,
    attempts: u32,
    last_error: Option<String>,
    next_attempt_at: Option<DateTime<Utc>>,
    leased_until: Option<DateTime<Utc>>,
    settled_at: Option<DateTime<Utc>>,
}

impl Queue {
    /// Numbers a new history entry of `appointment` and queues it for every endpoint
    /// subscribed to its event; answers its number.
    pub(super) fn fan_out(&mut self, appointment: AppointmentId, entry: &Entry) -> MessageId {
        self.entries += 1;
        let message = MessageId(self.entries);
        let event = EventType::of(entry.change);
        for endpoint in self.endpoints.iter().filter(|e| e.subscription.includes(event)) {
            self.queued += 1;
            self.deliveries.insert(
                DeliveryId(self.queued),
                Queued {
                    endpoint: endpoint.id,
                    message,
                    appointment,
                    entry: entry.clone(),
                    state: DeliveryState::Pending,
                    attempts: 0,
                    last_error: None,
                    next_attempt_at: Some(entry.at),
                    leased_until: None,
                    settled_at: None,
                },
            );
        }
        message
    }

    /// Forgets at most `most` deliveries settled at or before `by`, first settled first;
    /// answers how many.
    pub(super) fn forget_settled(&mut self, by: DateTime<Utc>, most: usize) -> u64 {
        let mut settled: Vec<(DateTime<Utc>, DeliveryId)> = self
            .deliveries
            .iter()
            .filter_map(|(id, queued)| queued.settled_at.filter(|at| *at <= by).map(|at| (at, *id)))
            .collect();
        settled.sort_unstable();
        settled.truncate(most);
        for (_, id) in &settled {
            self.deliveries.remove(id);
        }
        settled.len() as u64
    }

    /// The oldest pending delivery of each endpoint.
    fn heads(&self) -> BTreeMap<EndpointId, DeliveryId> {
        let mut heads = BTreeMap::new();
        for (id, queued) in &self.deliveries {
            if queued.state == DeliveryState::Pending {
                heads.entry(queued.endpoint).or_insert(*id);
            }
        }
        heads
    }
}

impl Queued {
    fn due(&self, now: DateTime<Utc>) -> bool {
        self.next_attempt_at.is_some_and(|at| at <= now)
            && self.leased_until.is_none_or(|until| until <= now)
    }

    fn shown(&self, id: DeliveryId) -> Delivery {
        Delivery {
            id,
            message: self.message,
            event: EventType::of(self.entry.change),
            appointment: self.appointment,
            event_at: self.entry.at,
            state: self.state,
            attempts: self.attempts,
            last_error: self.last_error.clone(),
            next_attempt_at: self.next_attempt_at,
        }
    }
}

impl InMemoryRepository {
    fn claim_now(&self, request: ClaimRequest) -> Result<Vec<Claimed>, StorageError> {
        let mut guard = self.state()?;
        let State { outbox, appointments, .. } = &mut *guard;
        let mut due: Vec<DeliveryId> = outbox
            .heads()
            .into_values()
            .filter(|id| outbox.deliveries.get(id).is_some_and(|q| q.due(request.now)))
            .collect();
        due.sort_by_key(|id| (outbox.deliveries.get(id).and_then(|q| q.next_attempt_at), *id));
        due.truncate(request.most);
        let mut claimed = Vec::with_capacity(due.len());
        for id in due {
            let Some(queued) = outbox.deliveries.get_mut(&id) else { continue };
            let (Some(endpoint), Some(appointment)) = (
                outbox.endpoints.iter().find(|e| e.id == queued.endpoint),
                appointments.get(&queued.appointment),
            ) else {
                continue;
            };
            queued.attempts += 1;
            queued.leased_until = Some(request.lease_until);
            claimed.push(Claimed {
                delivery: id,
                attempt: queued.attempts,
                endpoint: endpoint.id,
                url: endpoint.url.clone(),
                secret: endpoint.secret.clone(),
                message: Message::of(queued.message, &queued.entry, appointment),
            });
        }
        Ok(claimed)
    }

    fn settle_now(&self, settlement: Settlement) -> Result<bool, StorageError> {
        let mut state = self.state()?;
        let Some(queued) = state.outbox.deliveries.get_mut(&settlement.delivery) else {
            return Ok(false);
        };
        if queued.state != DeliveryState::Pending || queued.attempts != settlement.attempt {
            return Ok(false);
        }
        queued.leased_until = None;
        queued.state = match settlement.settled() {
            Settled::Done => DeliveryState::Delivered,
            Settled::Retry(_) => DeliveryState::Pending,
            Settled::GaveUp => DeliveryState::Failed,
        };
        queued.last_error = settlement.error().map(str::to_owned);
        queued.next_attempt_at = settlement.next_attempt_at();
        queued.settled_at = settlement.settled_at();
        Ok(true)
    }
}

/// Every call happens on the caller's thread, under the store's lock.
impl Outbox for InMemoryRepository {
    fn add_endpoint(&self, endpoint: Endpoint) -> Pending<Endpoint, TooManyEndpoints> {
        Pending::ready(self.state().map_err(WriteError::Storage).and_then(|mut state| {
            if state.outbox.endpoints.len() >= MAX_ENDPOINTS {
                return Err(WriteError::Refused(TooManyEndpoints));
            }
            state.outbox.endpoints.push(endpoint.clone());
            Ok(endpoint)
        }))
    }

    fn endpoints(&self) -> Result<Vec<Endpoint>, StorageError> {
        Ok(self.state()?.outbox.endpoints.clone())
    }

    fn remove_endpoint(&self, id: EndpointId) -> Pending<Endpoint, EndpointNotFound> {
        Pending::ready(self.state().map_err(WriteError::Storage).and_then(|mut state| {
            let outbox = &mut state.outbox;
            let index = outbox
                .endpoints
                .iter()
                .position(|e| e.id == id)
                .ok_or(WriteError::Refused(EndpointNotFound))?;
            outbox.deliveries.retain(|_, queued| queued.endpoint != id);
            Ok(outbox.endpoints.remove(index))
        }))
    }

    fn deliveries(
        &self,
        id: EndpointId,
        most: usize,
    ) -> Result<Option<Vec<Delivery>>, StorageError> {
        let state = self.state()?;
        if !state.outbox.endpoints.iter().any(|e| e.id == id) {
            return Ok(None);
        }
        let deliveries = state.outbox.deliveries.iter().rev().filter(|(_, q)| q.endpoint == id);
        Ok(Some(deliveries.take(most).map(|(id, queued)| queued.shown(*id)).collect()))
    }

    fn claim(&self, request: ClaimRequest) -> Pending<Vec<Claimed>, Infallible> {
        Pending::ready(self.claim_now(request).map_err(WriteError::Storage))
    }

    fn settle(&self, settlement: Settlement) -> Pending<bool, Infallible> {
        Pending::ready(self.settle_now(settlement).map_err(WriteError::Storage))
    }
}
