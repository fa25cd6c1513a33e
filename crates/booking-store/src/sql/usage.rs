//! How many places appointments and holds take in each slot of a resource, as the listings
//! read them.

use booking_core::{admission::UsageMap, catalog::Slug, storage::StorageError};
use chrono::{DateTime, Utc};
use diesel::{dsl::count_star, prelude::*};

use super::{
    AnyConnection,
    rows::{instant, seconds},
    schema::{hold_slots, occupancy},
    storage_error,
};

/// Usage of every slot from `from` to `to`, both included.
pub(super) fn usage_between(
    connection: &mut AnyConnection,
    resource: Option<&Slug>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<UsageMap, StorageError> {
    let (from, to, now) = (seconds(from), seconds(to), seconds(now));
    let booked =
        occupancy::table.filter(occupancy::start_at.between(from, to).and(occupancy::booked.gt(0)));
    let held = hold_slots::table
        .filter(hold_slots::start_at.between(from, to).and(hold_slots::expires_at.gt(now)));
    let mut usage = UsageMap::new();
    let mut add = |resource: Slug, start: i64, booked: Option<i32>, held: Option<i64>| {
        let entry = usage.entry((resource, instant(start)?)).or_default();
        if let Some(booked) = booked {
            entry.booked = booked.unsigned_abs();
        }
        if let Some(held) = held {
            entry.held = u32::try_from(held).unwrap_or(u32::MAX);
        }
        Ok::<_, StorageError>(())
    };
    if let Some(resource) = resource {
        // One resource (a booking page): its rows need not name it.
        let booked: Vec<(i64, i32)> = booked
            .filter(occupancy::resource.eq(resource.as_str()))
            .select((occupancy::start_at, occupancy::booked))
            .load(connection)
            .map_err(storage_error)?;
        let held: Vec<(i64, i64)> = held
            .filter(hold_slots::resource.eq(resource.as_str()))
            .group_by(hold_slots::start_at)
            .select((hold_slots::start_at, count_star()))
            .load(connection)
            .map_err(storage_error)?;
        for (start, count) in booked {
            add(resource.clone(), start, Some(count), None)?;
        }
        for (start, count) in held {
            add(resource.clone(), start, None, Some(count))?;
        }
        return Ok(usage);
    }
    let booked: Vec<(String, i64, i32)> = booked
        .select((occupancy::resource, occupancy::start_at, occupancy::booked))
        .load(connection)
        .map_err(storage_error)?;
    let held: Vec<(String, i64, i64)> = held
        .group_by((hold_slots::resource, hold_slots::start_at))
        .select((hold_slots::resource, hold_slots::start_at, count_star()))
        .load(connection)
        .map_err(storage_error)?;
    let mut slugs = Slugs::default();
    for (resource, start, count) in booked {
        add(slugs.of(resource)?, start, Some(count), None)?;
    }
    for (resource, start, count) in held {
        add(slugs.of(resource)?, start, None, Some(count))?;
    }
    Ok(usage)
}

/// Stored resource names read back as slugs, each parsed once.
#[derive(Default)]
struct Slugs(std::collections::HashMap<String, Slug>);

impl Slugs {
    fn of(&mut self, text: String) -> Result<Slug, StorageError> {
        if let Some(slug) = self.0.get(&text) {
            return Ok(slug.clone());
        }
        let slug = text
            .parse::<Slug>()
            .map_err(|_| StorageError::fault(format!("stored slug is invalid: {text}")))?;
        self.0.insert(text, slug.clone());
        Ok(slug)
    }
}
