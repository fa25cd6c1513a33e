//! Availability changes, published after each write commits, for the availability streams.
//!
//! Handlers report which slots a committed write touched; with PostgreSQL, the store's
//! listener reports what other servers committed. One publisher task reads their usage
//! (after the commit, so a rolled-back write is never announced) and broadcasts it. Because one
//! task reads and sends in turn, a slot's updates go out in commit order, each carrying its
//! counts as they stood after that commit. Subscribers that fall behind the bounded channel are
//! told to start over from a fresh snapshot instead of holding memory for them.

use std::{
    collections::BTreeSet,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use actix_web::web;
use booking_core::{availability::Usage, catalog::Slug, service::BookingService};
use booking_store::Announcement;
use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc};

/// How many changes a subscriber may fall behind before it gets a fresh snapshot instead.
pub const SUBSCRIBER_BUFFER: usize = 256;

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
pub enum Change {
    /// These slots' usage changed.
    Usage {
        /// The change's sequence number.
        id: u64,
        /// The slots and their new usage.
        updates: Arc<Vec<SlotUpdate>>,
    },
    /// Something that is not usage changed (a closure): subscribers reload.
    Resync {
        /// The change's sequence number.
        id: u64,
    },
}

#[derive(Debug)]
enum Notice {
    Slots(Slug, Vec<DateTime<Utc>>),
    /// These slots change by themselves at this instant (a hold expiring).
    SlotsAt(Slug, Vec<DateTime<Utc>>, DateTime<Utc>),
    Resync,
}

/// The publisher's front door, shared by handlers and streams.
#[derive(Debug, Clone)]
pub struct Events {
    notices: mpsc::UnboundedSender<Notice>,
    changes: broadcast::Sender<Change>,
    sequence: Arc<AtomicU64>,
}

impl Events {
    /// Starts the publisher on the current runtime.
    pub fn start(service: web::Data<BookingService>) -> Self {
        let (notices, receiver) = mpsc::unbounded_channel();
        let (changes, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        let events = Self { notices, changes, sequence: Arc::new(AtomicU64::new(0)) };
        actix_web::rt::spawn(publish(receiver, events.clone(), service));
        events
    }

    /// Reports, after its commit, that a write changed these slots of `resource`.
    pub fn slots_changed(&self, resource: &Slug, starts: &[DateTime<Utc>]) {
        if !starts.is_empty() {
            // The publisher lives as long as the server; if it is gone there is no one to tell.
            let _gone = self.notices.send(Notice::Slots(resource.clone(), starts.to_vec()));
        }
    }

    /// Reports that slots of `resource` change by themselves at `at` (a hold expiring).
    pub fn slots_change_at(&self, resource: &Slug, starts: &[DateTime<Utc>], at: DateTime<Utc>) {
        let _gone = self.notices.send(Notice::SlotsAt(resource.clone(), starts.to_vec(), at));
    }

    /// Reports that subscribers should reload everything.
    pub fn everything_changed(&self) {
        let _gone = self.notices.send(Notice::Resync);
    }

    /// Passes on a change another server committed to the database this one shares; callable
    /// from any thread. False once the publisher has stopped.
    pub fn announce(&self, announcement: Announcement) -> bool {
        let notice = match announcement {
            Announcement::Slots { resource, starts, again_at: Some(at) } => {
                // The hold's server times its expiry for its own streams; this one does too.
                let again =
                    self.notices.send(Notice::SlotsAt(resource.clone(), starts.clone(), at));
                if again.is_err() {
                    return false;
                }
                Notice::Slots(resource, starts)
            }
            Announcement::Slots { resource, starts, again_at: None } => {
                Notice::Slots(resource, starts)
            }
            Announcement::Everything => Notice::Resync,
        };
        self.notices.send(notice).is_ok()
    }

    /// A receiver of every change from now on, and the id of the last change sent.
    pub fn subscribe(&self) -> (broadcast::Receiver<Change>, u64) {
        let receiver = self.changes.subscribe();
        (receiver, self.sequence.load(Ordering::SeqCst))
    }

    fn send(&self, change: impl FnOnce(u64) -> Change) {
        let id = self.sequence.fetch_add(1, Ordering::SeqCst) + 1;
        // No subscriber is not an error.
        let _unheard = self.changes.send(change(id));
    }
}

async fn publish(
    mut notices: mpsc::UnboundedReceiver<Notice>,
    events: Events,
    service: web::Data<BookingService>,
) {
    while let Some(first) = notices.recv().await {
        // Everything reported meanwhile goes out in one read.
        let mut slots = BTreeSet::new();
        let mut resync = false;
        let mut next = Some(first);
        while let Some(notice) = next {
            match notice {
                Notice::Slots(resource, starts) => {
                    slots.extend(starts.into_iter().map(|s| (resource.clone(), s)))
                }
                Notice::SlotsAt(resource, starts, at) => {
                    let (events, wait) = (events.clone(), (at - service.now()).to_std());
                    actix_web::rt::spawn(async move {
                        tokio::time::sleep(wait.unwrap_or_default()).await;
                        events.slots_changed(&resource, &starts);
                    });
                }
                Notice::Resync => resync = true,
            }
            next = notices.try_recv().ok();
        }
        if resync {
            events.send(|id| Change::Resync { id });
        }
        let (Some(first), Some(last)) =
            (slots.iter().map(|s| s.1).min(), slots.iter().map(|s| s.1).max())
        else {
            continue;
        };
        let reading = service.clone();
        match web::block(move || reading.usage(first, last)).await {
            Ok(Ok(usage)) => {
                let updates = slots
                    .into_iter()
                    .map(|(resource, start)| {
                        let usage =
                            usage.get(&(resource.clone(), start)).copied().unwrap_or_default();
                        SlotUpdate { resource, start, usage }
                    })
                    .collect();
                events.send(|id| Change::Usage { id, updates: Arc::new(updates) });
            }
            failed => {
                // Without the counts, the honest message is "reload".
                tracing::warn!(error = ?failed.map(drop), "could not read usage to publish; streams will resync");
                events.send(|id| Change::Resync { id });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use booking_core::{clock::ManualClock, memory::InMemoryRepository, schedule::Schedule};

    use super::*;

    /// Another server's hold: announced now, and announced again when it expires, since no
    /// handler on this server set a timer for it.
    #[actix_web::test]
    async fn another_servers_hold_is_published_now_and_when_it_expires() {
        let now: DateTime<Utc> = "2030-01-01T08:00:00Z".parse().unwrap();
        let service = web::Data::new(BookingService::new(
            Arc::new(InMemoryRepository::new()),
            Arc::new(ManualClock::new(now)),
            Schedule::default(),
        ));
        let events = Events::start(service);
        let (mut changes, _) = events.subscribe();
        let resource: Slug = "default".parse().unwrap();
        let start: DateTime<Utc> = "2030-01-07T09:00:00Z".parse().unwrap();
        let again_at = now + chrono::Duration::milliseconds(200);
        let announced = events.announce(Announcement::Slots {
            resource: resource.clone(),
            starts: vec![start],
            again_at: Some(again_at),
        });
        assert!(announced);
        for _ in 0..2 {
            let change = tokio::time::timeout(Duration::from_secs(5), changes.recv())
                .await
                .unwrap()
                .unwrap();
            let Change::Usage { updates, .. } = change else { panic!("{change:?}") };
            assert_eq!(
                updates.as_slice(),
                [SlotUpdate { resource: resource.clone(), start, usage: Usage::default() }]
            );
        }
        assert!(events.announce(Announcement::Everything));
        let change = changes.recv().await.unwrap();
        assert!(matches!(change, Change::Resync { .. }), "{change:?}");
    }
}
