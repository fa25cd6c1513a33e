//! `GET /availability/stream`: the availability listing as Server-Sent Events. A snapshot first,
//! then one `slot` event for every slot whose availability or counts change, heartbeats while
//! idle, and a fresh snapshot whenever the stream cannot be sure it saw every change.

use std::{collections::VecDeque, time::Duration};

use actix_web::{HttpRequest, HttpResponse, http::header, web, web::Bytes};
use booking_core::{
    admission::UsageMap,
    availability::{Availability, ListingPlan},
    closure::Closure,
    service::BookingService,
};
use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};

use super::{
    Bookings,
    availability::{AvailabilityQuery, AvailabilityView, SlotView, plan_is_short},
};
use crate::{
    error::{ApiError, Problem},
    events::{Events, Published},
    limits::{Clients, StreamCaps, StreamPermit, StreamRefusal, random_below},
    metrics::OpenStream,
};

/// The shortest reconnection delay a stream asks its client for (SSE `retry`)...
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// ...plus a random share of this, so that clients cut off together (a restart) come back
/// spread out.
const RECONNECT_SPREAD: Duration = Duration::from_secs(4);
/// The reconnection delay of a stream refused by a cap...
const REFUSED_RETRY_AFTER: Duration = Duration::from_secs(5);
/// ...plus a random share of this.
const REFUSED_RETRY_SPREAD: Duration = Duration::from_secs(10);

/// How often idle streams get a heartbeat comment.
#[derive(Debug, Clone, Copy)]
pub struct Heartbeat(pub Duration);

/// Stream availability changes.
#[utoipa::path(
    get, path = "/availability/stream", tag = "availability",
    params(AvailabilityQuery),
    responses(
        (status = 200, description = "text/event-stream: a `retry` field, a `snapshot` event (the body of GET /availability), then a `slot` event (a SlotView) for every slot whose availability changes; `: heartbeat` comments while idle. When a cap refuses the stream and the request accepts text/event-stream (as a browser's EventSource does): a `retry` field of 5-15 s, one `refused` event (a Problem), and the end of the stream, so that EventSource tries again later instead of giving up", content_type = "text/event-stream", body = String),
        (status = 400, description = "Bad dates or range, unknown resource or service", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The client has `BOOKING_MAX_STREAMS_PER_CLIENT` streams open on this server (`too-many-streams`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database busy or unreachable, or the server has `BOOKING_MAX_STREAMS` streams open (`streams-full`); retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stream(
    request: HttpRequest,
    bookings: web::Data<Bookings>,
    events: web::Data<Events>,
    heartbeat: web::Data<Heartbeat>,
    clients: web::Data<Clients>,
    caps: web::Data<StreamCaps>,
    query: web::Query<AvailabilityQuery>,
) -> Result<HttpResponse, ApiError> {
    let plan = query.plan(&bookings)?;
    let client = clients.client_of(request.peer_addr(), request.headers());
    let permit = match caps.open(client) {
        Ok(permit) => permit,
        Err(refusal) if wants_event_stream(&request) => return Ok(refused_stream(refusal)),
        Err(refusal) => return Err(ApiError::stream_refused(refusal)),
    };
    // Subscribe before reading, so that no change committed after the read is missed;
    // applying one the read already saw is harmless (updates carry absolute counts).
    let (changes, id) = events.subscribe();
    let view = View::load(&bookings, plan).await?;
    let mut state = State {
        bookings,
        query: query.into_inner(),
        changes,
        view,
        id,
        heartbeat: tokio::time::interval(heartbeat.0),
        queue: VecDeque::new(),
        caps,
        _open: (permit, OpenStream::open()),
    };
    state.heartbeat.reset();
    let reconnect = RECONNECT_AFTER + random_below(RECONNECT_SPREAD);
    state.queue.push_back(Bytes::from(format!("retry: {}\n\n", reconnect.as_millis())));
    state.queue.push_back(state.view.snapshot_event(&state.bookings, state.id));
    let body = futures_util::stream::unfold(state, |mut state| async move {
        let next = state.next().await?;
        Some((Ok::<_, actix_web::Error>(next), state))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// Whether the client asked for an event stream by name, as `EventSource` does. A browser's
/// `EventSource` gives up for good on any answer but a 200 event stream.
fn wants_event_stream(request: &HttpRequest) -> bool {
    request
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("text/event-stream"))
}

/// A refusal an `EventSource` acts on: the problem as a `refused` event, then the end of the
/// stream, with a reconnection delay spread between 5 and 15 seconds, so that the clients a
/// full server refused come back later, and not together.
fn refused_stream(refusal: StreamRefusal) -> HttpResponse {
    let error = ApiError::stream_refused(refusal);
    if let Some(reason) = error.reason() {
        crate::metrics::refusal(reason);
    }
    let retry = REFUSED_RETRY_AFTER + random_below(REFUSED_RETRY_SPREAD);
    let mut body = format!("retry: {}\n\n", retry.as_millis()).into_bytes();
    body.extend_from_slice(&event("refused", 0, &error.problem()));
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// What one stream knows: the listing's plan, the usage and closures it was judged on, and the
/// listing it last sent.
struct View {
    plan: ListingPlan,
    usage: UsageMap,
    closures: Vec<Closure>,
    last: Availability,
}

impl View {
    async fn load(bookings: &web::Data<Bookings>, plan: ListingPlan) -> Result<Self, ApiError> {
        let planned = plan.clone();
        let read = move |service: &BookingService| service.read_availability(&planned);
        let (usage, closures) = match plan_is_short(&plan) {
            true => bookings.run("stream_snapshot", read).await?,
            false => bookings.run_long("stream_snapshot", read).await?,
        };
        let last = bookings.judge(plan.clone(), &usage, &closures);
        Ok(Self { plan, usage, closures, last })
    }

    fn snapshot_event(&self, service: &BookingService, id: u64) -> Bytes {
        event("snapshot", id, &AvailabilityView::new(&self.last, service))
    }

    /// Applies new usage and returns an event for each slot whose view changed.
    fn apply(
        &mut self,
        service: &BookingService,
        updates: &[crate::events::SlotUpdate],
        id: u64,
    ) -> Vec<Bytes> {
        let Some((from, to)) = self.plan.span() else { return Vec::new() };
        let mut touched = false;
        for update in updates.iter().filter(|u| (from..=to).contains(&u.start)) {
            self.usage.insert((update.resource.clone(), update.start), update.usage);
            touched = true;
        }
        if !touched {
            return Vec::new();
        }
        let next = service.judge(self.plan.clone(), &self.usage, &self.closures);
        let events = next
            .slots
            .iter()
            .zip(&self.last.slots)
            .filter(|(now, before)| now != before)
            .map(|(now, _)| event("slot", id, &SlotView::new(now, service)))
            .collect();
        self.last = next;
        events
    }
}

struct State {
    bookings: web::Data<Bookings>,
    /// What the stream lists, planned again on a resync: the calendar may have changed.
    query: AvailabilityQuery,
    changes: broadcast::Receiver<Published>,
    view: View,
    id: u64,
    heartbeat: tokio::time::Interval,
    queue: VecDeque<Bytes>,
    caps: web::Data<StreamCaps>,
    /// Counts the stream as open, against the caps and in the metrics, until it ends.
    _open: (StreamPermit, OpenStream),
}

impl State {
    /// The next chunk to send; `None` ends the stream.
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.queue.pop_front() {
                return Some(chunk);
            }
            tokio::select! {
                change = self.changes.recv() => match change {
                    Ok(Published::Usage { id, updates }) => {
                        self.id = id;
                        let events = self.view.apply(&self.bookings, &updates, id);
                        self.queue.extend(events);
                    }
                    Ok(Published::Resync { id }) => self.resync(id).await?,
                    // Fell behind: the buffer is gone, so start over from the store.
                    Err(RecvError::Lagged(_)) => self.resync(self.id).await?,
                    Err(RecvError::Closed) => return None,
                },
                _ = self.heartbeat.tick() => return Some(Bytes::from_static(b": heartbeat\n\n")),
            }
        }
    }

    /// Reloads the view after a pause that spreads the reloads of every stream told to at once
    /// (by a closure, say) over time, rather than all reading the database in the same instant.
    async fn resync(&mut self, id: u64) -> Option<()> {
        tokio::time::sleep(self.caps.resync_delay()).await;
        self.changes = self.changes.resubscribe();
        self.id = id;
        // A resync may follow a change of the calendar (a new resource, other hours): plan
        // the listing again. One that no longer plans (its resource removed) ends the stream;
        // the client's reconnection is then told why.
        let plan = self.query.plan(&self.bookings).ok()?;
        match View::load(&self.bookings, plan).await {
            Ok(view) => {
                self.view = view;
                self.queue.push_back(self.view.snapshot_event(&self.bookings, self.id));
                Some(())
            }
            // The client reconnects and gets a snapshot then.
            Err(_) => None,
        }
    }
}

fn event(name: &str, id: u64, data: &impl Serialize) -> Bytes {
    let data = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_owned());
    Bytes::from(format!("id: {id}\nevent: {name}\ndata: {data}\n\n"))
}
