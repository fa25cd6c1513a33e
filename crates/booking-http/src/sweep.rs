//! Forgetting expired idempotency keys and holds, and webhook deliveries settled long ago, in
//! the background, in small batches, so that no client's write deletes other keys' records or
//! other clients' holds (and waits on them). Each round also reads the stored calendar, in case
//! this server missed the notice of another's change.

use std::time::Duration;

use actix_web::web;
use booking_core::repository::Forgotten;

use crate::{error::ApiError, limits::random_below, routes::Bookings};

/// Records forgotten per transaction: short enough never to hold up writes for long.
pub const BATCH: u32 = 500;

/// Every `interval`, give or take a random tenth (servers sharing a database spread out),
/// forgets the records past the key lifetime and the expired holds, batch after batch until
/// none is left.
pub fn start(bookings: web::Data<Bookings>, interval: Duration) {
    // Never a busy loop against the database, whatever the setting says.
    let interval = interval.max(Duration::from_millis(10));
    actix_web::rt::spawn(async move {
        loop {
            tokio::time::sleep(interval + random_below(interval / 10)).await;
            follow_the_calendar(&bookings).await;
            while let Some(forgotten) = sweep_once(&bookings).await {
                if forgotten.keys.max(forgotten.holds).max(forgotten.deliveries) < u64::from(BATCH)
                {
                    break;
                }
            }
        }
    });
}

/// Follows the stored calendar if another server changed it and its notice never came.
async fn follow_the_calendar(bookings: &web::Data<Bookings>) {
    let reloaded = bookings
        .run("reload_calendar", |service| service.reload_calendar().map_err(ApiError::from));
    match reloaded.await {
        Ok(true) => tracing::info!("followed a calendar change whose notice this server missed"),
        Ok(false) => {}
        Err(error) => {
            tracing::warn!(%error, "could not read the stored calendar; trying again later")
        }
    }
}

/// One batch; `None` (after a warning) when the store failed, to be tried at the next round.
async fn sweep_once(bookings: &web::Data<Bookings>) -> Option<Forgotten> {
    let forgotten = async {
        let pending = bookings
            .run_long("forget_expired", |service| Ok::<_, ApiError>(service.forget_expired(BATCH)))
            .await?;
        Ok::<_, ApiError>(pending.await?)
    };
    match forgotten.await {
        Ok(forgotten) => {
            tracing::debug!(
                keys = forgotten.keys,
                holds = forgotten.holds,
                deliveries = forgotten.deliveries,
                "forgot expired"
            );
            Some(forgotten)
        }
        Err(error) => {
            tracing::warn!(%error, "could not forget expired keys and holds; trying again later");
            None
        }
    }
}
