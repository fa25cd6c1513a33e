//! The change feed's publisher: availability changes, for the availability streams.
//!
//! Every committed write reaches [`Events`] as its [`Change`], once, right after its commit (the
//! booking service hands it on, see `booking_core::change::Feed`); with PostgreSQL, the changes
//! other servers commit arrive the same way from the store's listener. One publisher task takes
//! them in order, reads the usage of the slots they name (after the commit, so a rolled-back
//! write is never published; one read for everything reported meanwhile) and broadcasts it.
//! Because one task reads and sends in turn, a slot's updates go out in commit order, each
//! carrying its counts as they stood after that commit. Subscribers that fall behind the bounded
//! channel are told to start over from a fresh snapshot instead of holding memory for them.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use actix_web::web;
use booking_core::{
    admission::Usage,
    catalog::Slug,
    change::{Change, Feed},
    event::Event,
};
use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc};

use crate::routes::Bookings;

/// How many changes a subscriber may fall behind before it gets a fresh snapshot instead.
pub const SUBSCRIBER_BUFFER: usize = 256;
/// Changes that may wait for the publisher; past this it is far behind, and the streams reload
/// once it catches up instead.
pub const QUEUED_CHANGES: usize = 4096;

/// One slot's usage after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotUpdate {
    /// The resource.
    pub resource: Slug,
    /// The slot's start.
    pub start: DateTime<Utc>,
    /// Its usage now.
    pub usage: Usage,
}

/// A change as subscribers see it; `id` grows with every change.
#[derive(Debug, Clone)]
pub enum Published {
    /// These slots' usage changed.
    Usage {
        /// The change's sequence number.
        id: u64,
        /// The slots and their new usage.
        updates: Arc<Vec<SlotUpdate>>,
    },
    /// Anything may have changed (a closure, or changes were missed): subscribers reload.
    Resync {
        /// The change's sequence number.
        id: u64,
    },
}

/// The publisher's front door: fed by committed writes and by other servers, read by streams.
#[derive(Debug, Clone)]
pub struct Events {
    changes: mpsc::Sender<Change>,
    /// Set when a change found the queue full: the streams must reload.
    overflowed: Arc<AtomicBool>,
    published: broadcast::Sender<Published>,
    sequence: Arc<AtomicU64>,
}

/// The publisher before it runs: it needs the service, which needs [`Events`] as its feed.
#[derive(Debug)]
pub struct Publisher {
    events: Events,
    changes: mpsc::Receiver<Change>,
}

impl Events {
    /// The front door, and the publisher to start once the service exists.
    pub fn new() -> (Self, Publisher) {
        let (changes, receiver) = mpsc::channel(QUEUED_CHANGES);
        let (published, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        let events = Self {
            changes,
            overflowed: Arc::new(AtomicBool::new(false)),
            published,
            sequence: Arc::new(AtomicU64::new(0)),
        };
        (events.clone(), Publisher { events, changes: receiver })
    }

    /// Passes on a change committed elsewhere (another server's, or a hold's expiry), if anyone
    /// is listening (a change nobody hears is dropped, but for a hold's expiry, whose timer
    /// streams opened later need); callable from any thread, and never waits. False
    /// once the publisher has stopped.
    pub fn relay(&self, change: Change) -> bool {
        if !self.heard(&change) {
            return !self.changes.is_closed();
        }
        match self.changes.try_send(change) {
            Ok(()) => true,
            // Dropped, so the streams reload (a hold's expiry in it goes unannounced, but the
            // reload shows the hold for as long as it is active).
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflowed.store(true, Ordering::SeqCst);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// A receiver of every change from now on, and the id of the last change sent.
    pub fn subscribe(&self) -> (broadcast::Receiver<Published>, u64) {
        let receiver = self.published.subscribe();
        (receiver, self.sequence.load(Ordering::SeqCst))
    }

    /// Whether `change` is worth publishing: with nobody listening there is nothing to publish
    /// (a stream that subscribes later reads its snapshot after subscribing, so it sees the
    /// change), but a hold's expiry still needs its timer, for the streams that open before it
    /// expires. Servers sharing a database hear each other's every change; unheard, none of them
    /// costs a read.
    fn heard(&self, change: &Change) -> bool {
        matches!(change, Change::Slots { again_at: Some(_), .. })
            || self.published.receiver_count() > 0
    }

    fn send(&self, published: impl FnOnce(u64) -> Published) {
        let id = self.sequence.fetch_add(1, Ordering::SeqCst) + 1;
        // No subscriber is not an error.
        let _unheard = self.published.send(published(id));
    }
}

impl Feed for Events {
    fn committed(&self, change: &Change, event: Option<&Event>) {
        if let Some(event) = event {
            crate::metrics::event(event);
        }
        // The publisher lives as long as the server; if it is gone there is no one to tell.
        let _gone = self.relay(change.clone());
    }
}

impl Publisher {
    /// Runs the publisher on the current runtime, reading usage through `bookings`.
    pub fn start(self, bookings: web::Data<Bookings>) {
        actix_web::rt::spawn(publish(self.changes, self.events, bookings));
    }
}

async fn publish(
    mut changes: mpsc::Receiver<Change>,
    events: Events,
    bookings: web::Data<Bookings>,
) {
    while let Some(first) = changes.recv().await {
        // Everything reported meanwhile goes out together.
        let mut slots: BTreeMap<Slug, BTreeSet<DateTime<Utc>>> = BTreeMap::new();
        let mut resync = events.overflowed.swap(false, Ordering::SeqCst);
        let mut next = Some(first);
        while let Some(change) = next {
            match change {
                Change::Slots { resource, starts, again_at } => {
                    if let Some(at) = again_at {
                        expire_at(&events, &bookings, resource.clone(), starts.clone(), at);
                    }
                    slots.entry(resource).or_default().extend(starts);
                }
                Change::Everything => resync = true,
                Change::Nothing => {}
            }
            next = changes.try_recv().ok();
        }
        if resync {
            events.send(|id| Published::Resync { id });
        }
        if !slots.is_empty() {
            publish_usage(&events, &bookings, slots).await;
        }
    }
}

/// Reads the slots' usage now and broadcasts it; on failure, tells streams to reload.
async fn publish_usage(
    events: &Events,
    bookings: &web::Data<Bookings>,
    slots: BTreeMap<Slug, BTreeSet<DateTime<Utc>>>,
) {
    let mut updates = Vec::new();
    for (resource, starts) in slots {
        let (Some(first), Some(last)) = (starts.first().copied(), starts.last().copied()) else {
            continue;
        };
        let reading = resource.clone();
        match bookings.run("publish", move |service| service.usage(&reading, first, last)).await {
            Ok(usage) => updates.extend(starts.into_iter().map(|start| {
                let usage = usage.get(&(resource.clone(), start)).copied().unwrap_or_default();
                SlotUpdate { resource: resource.clone(), start, usage }
            })),
            Err(error) => {
                // Without the counts, the honest message is "reload".
                tracing::warn!(%error, "could not read usage to publish; streams will resync");
                events.send(|id| Published::Resync { id });
                return;
            }
        }
    }
    events.send(|id| Published::Usage { id, updates: Arc::new(updates) });
}

/// These slots change by themselves at `at` (a hold expiring): publishes them again then.
fn expire_at(
    events: &Events,
    bookings: &web::Data<Bookings>,
    resource: Slug,
    starts: Vec<DateTime<Utc>>,
    at: DateTime<Utc>,
) {
    let wait = (at - bookings.now()).to_std().unwrap_or_default();
    let events = events.clone();
    actix_web::rt::spawn(async move {
        tokio::time::sleep(wait).await;
        events.relay(Change::Slots { resource, starts, again_at: None });
    });
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use booking_core::{
        clock::ManualClock, memory::InMemoryRepository, schedule::Schedule, service::BookingService,
    };

    use super::*;
    use crate::routes::StoreCalls;

    fn start(now: DateTime<Utc>) -> Events {
        let (events, publisher) = Events::new();
        let service = BookingService::new(
            Arc::new(InMemoryRepository::new()),
            Arc::new(ManualClock::new(now)),
            Schedule::default(),
        );
        publisher.start(web::Data::new(Bookings::new(service, StoreCalls::Inline)));
        events
    }

    async fn next(published: &mut broadcast::Receiver<Published>) -> Published {
        tokio::time::timeout(Duration::from_secs(5), published.recv()).await.unwrap().unwrap()
    }

    /// Another server's hold: published now, and again when it expires, since no write on
    /// this server set a timer for it.
    #[actix_web::test]
    async fn another_servers_hold_is_published_now_and_when_it_expires() {
        let now: DateTime<Utc> = "2030-01-01T08:00:00Z".parse().unwrap();
        let events = start(now);
        let (mut published, _) = events.subscribe();
        let resource: Slug = "default".parse().unwrap();
        let start: DateTime<Utc> = "2030-01-07T09:00:00Z".parse().unwrap();
        let again_at = now + chrono::Duration::milliseconds(200);
        assert!(events.relay(Change::Slots {
            resource: resource.clone(),
            starts: vec![start],
            again_at: Some(again_at),
        }));
        for _ in 0..2 {
            let Published::Usage { updates, .. } = next(&mut published).await else {
                panic!("expected usage")
            };
            assert_eq!(
                updates.as_slice(),
                [SlotUpdate { resource: resource.clone(), start, usage: Usage::default() }]
            );
        }
        assert!(events.relay(Change::Everything));
        assert!(matches!(next(&mut published).await, Published::Resync { .. }));
    }

    /// A committed write is published only while someone listens, but a hold's expiry always
    /// sets its timer.
    #[actix_web::test]
    async fn writes_are_published_to_listeners() {
        let now: DateTime<Utc> = "2030-01-01T08:00:00Z".parse().unwrap();
        let events = start(now);
        let resource: Slug = "default".parse().unwrap();
        let start: DateTime<Utc> = "2030-01-07T09:00:00Z".parse().unwrap();
        let booked = Change::slots(&resource, [start], None);
        events.committed(&booked, None);
        let (mut published, before) = events.subscribe();
        let later = Change::slots(&resource, [start + chrono::Duration::minutes(30)], None);
        events.committed(&later, None);
        let Published::Usage { id, updates } = next(&mut published).await else {
            panic!("expected usage")
        };
        assert_eq!(id, before + 1, "the unheard write was not published");
        assert_eq!(updates[0].start, start + chrono::Duration::minutes(30));
    }

    /// Another server's change is published only while someone listens here: servers sharing a
    /// database hear every change of the others, and an unheard one costs no read.
    #[actix_web::test]
    async fn another_servers_changes_are_published_only_while_someone_listens() {
        let now: DateTime<Utc> = "2030-01-01T08:00:00Z".parse().unwrap();
        let events = start(now);
        let resource: Slug = "default".parse().unwrap();
        let start: DateTime<Utc> = "2030-01-07T09:00:00Z".parse().unwrap();
        assert!(events.relay(Change::slots(&resource, [start], None)));
        assert!(events.relay(Change::Everything));
        let (mut published, before) = events.subscribe();
        let later = start + chrono::Duration::minutes(30);
        assert!(events.relay(Change::slots(&resource, [later], None)));
        let Published::Usage { id, updates } = next(&mut published).await else {
            panic!("expected usage")
        };
        assert_eq!(id, before + 1, "nothing unheard was published");
        assert_eq!(updates[0].start, later);
    }
}
