//! The places appointments and holds take in the slots of a resource: reading their usage,
//! judging a placement, and taking and giving back places, always inside the caller's
//! transaction.

use booking_core::{
    admission::{Admission, Unavailable, UsageMap},
    appointment::Appointment,
    catalog::Slug,
    closure::Closure,
    placement::Placement,
    storage::StorageError,
    units::Capacity,
};
use chrono::{DateTime, Utc};
use diesel::{dsl::count_star, prelude::*};

use crate::statements::{GiveBackPlace, TakePlace};

use super::{
    Db, TxError, dialect,
    rows::{ClosureRow, closures_of, instant, seconds},
    schema::{closures, hold_slots, occupancy},
    storage_error,
};

/// Places that belong to the request itself and so do not count against it.
#[derive(Clone, Copy)]
pub(super) enum Own<'a> {
    Nothing,
    /// The appointment being moved: its current places are about to be given back.
    Appointment(&'a Appointment),
}

/// The first and last of a placement's slot starts, in seconds: the span its usage is read
/// over. (A span, not a list, so the query's text is the same for every placement and is
/// prepared once.)
fn span_of(placement: &Placement) -> (i64, i64) {
    let starts = placement.occupied.iter().map(|at| seconds(*at));
    let first = starts.clone().min().unwrap_or_default();
    (first, starts.max().unwrap_or(first))
}

/// Whether the placement takes the slot starting at `start` (in seconds).
fn takes(placement: &Placement, start: i64) -> bool {
    placement.occupied.iter().any(|at| seconds(*at) == start)
}

/// Usage of the slots `placement` takes, as seen inside the transaction.
fn usage_for(
    connection: &mut Db,
    placement: &Placement,
    now: DateTime<Utc>,
    own: Own<'_>,
) -> Result<UsageMap, StorageError> {
    let (first, last) = span_of(placement);
    let resource = placement.resource.as_str();
    let booked: Vec<(i64, i32)> = occupancy::table
        .filter(occupancy::resource.eq(resource))
        .filter(occupancy::start_at.between(first, last))
        .select((occupancy::start_at, occupancy::booked))
        .load(connection)
        .map_err(storage_error)?;
    let held: Vec<(i64, i64)> = hold_slots::table
        .filter(hold_slots::resource.eq(resource))
        .filter(hold_slots::start_at.between(first, last))
        .filter(hold_slots::expires_at.gt(seconds(now)))
        .group_by(hold_slots::start_at)
        .select((hold_slots::start_at, count_star()))
        .load(connection)
        .map_err(storage_error)?;
    // Inside the span only the placement's own slots count (a grid changed since could have
    // left others there).
    let mut usage = UsageMap::new();
    for (start, booked) in booked.into_iter().filter(|(start, _)| takes(placement, *start)) {
        usage.entry((placement.resource.clone(), instant(start)?)).or_default().booked =
            booked.unsigned_abs();
    }
    for (start, held) in held.into_iter().filter(|(start, _)| takes(placement, *start)) {
        usage.entry((placement.resource.clone(), instant(start)?)).or_default().held =
            u32::try_from(held).unwrap_or(u32::MAX);
    }
    if let Own::Appointment(appointment) = own
        && appointment.resource() == &placement.resource
    {
        for start in appointment.occupied() {
            if let Some(usage) = usage.get_mut(&(placement.resource.clone(), *start)) {
                usage.booked = usage.booked.saturating_sub(1);
            }
        }
    }
    Ok(usage)
}

/// Closures of `resource` (or of the business) that overlap the placement's time.
fn closures_over(connection: &mut Db, placement: &Placement) -> Result<Vec<Closure>, StorageError> {
    closures_of(
        closures::table
            .filter(closures::start_at.lt(seconds(placement.slot.end())))
            .filter(closures::end_at.gt(seconds(placement.slot.start())))
            .filter(
                closures::resource.is_null().or(closures::resource.eq(placement.resource.as_str())),
            )
            // The first that blocks is the one a refusal names, on every backend.
            .order((closures::start_at, closures::id))
            .select(ClosureRow::as_select())
            .load(connection),
    )
}

/// Locks the slots of each resource against every other writer until the transaction ends,
/// resources in name order and slots in time order, so that writers that need several slots
/// always queue for them in the same order and never wait on each other in a circle.
pub(super) fn lock(
    connection: &mut Db,
    mut slots: Vec<(&Slug, &[DateTime<Utc>])>,
) -> Result<(), StorageError> {
    slots.sort_by_key(|(resource, _)| *resource);
    for (resource, starts) in slots {
        let mut starts: Vec<i64> = starts.iter().map(|at| seconds(*at)).collect();
        starts.sort_unstable();
        dialect::lock_slots(connection, resource.as_str(), &starts).map_err(storage_error)?;
    }
    Ok(())
}

/// The first candidate the admission rule admits, or why the first was refused. Runs inside
/// the write transaction after locking each candidate's slots, so what it reads cannot change
/// before the write.
pub(super) fn first_admitted<'a>(
    connection: &mut Db,
    candidates: &'a [Placement],
    admission: &Admission,
    own: Own<'_>,
) -> Result<Result<&'a Placement, Unavailable>, StorageError> {
    let mut first_refusal = None;
    for candidate in candidates {
        if dialect::LOCKS_ROWS && matches!(own, Own::Nothing) && is_full(connection, candidate)? {
            // A slot full by committed data is refused at once, as it would be after waiting for
            // its lock: a crowd racing for one slot does not queue behind the winner.
            if let Err(why) = judge(connection, candidate, admission, own)? {
                first_refusal.get_or_insert(why);
                continue;
            }
        }
        lock(connection, vec![(&candidate.resource, &candidate.occupied)])?;
        match judge(connection, candidate, admission, own)? {
            Ok(()) => return Ok(Ok(candidate)),
            Err(why) => {
                first_refusal.get_or_insert(why);
            }
        }
    }
    Ok(Err(first_refusal.unwrap_or(Unavailable::OutsideHours)))
}

/// The admission rule applied to the placement's closures and usage as read now.
fn judge(
    connection: &mut Db,
    candidate: &Placement,
    admission: &Admission,
    own: Own<'_>,
) -> Result<Result<(), Unavailable>, StorageError> {
    let closures = closures_over(connection, candidate)?;
    let usage = usage_for(connection, candidate, admission.now(), own)?;
    Ok(admission.check(candidate, &closures, &usage))
}

/// Whether any of the placement's slots has as many bookings as places.
fn is_full(connection: &mut Db, placement: &Placement) -> Result<bool, StorageError> {
    let (first, last) = span_of(placement);
    let limit = i32::try_from(placement.capacity.get()).unwrap_or(i32::MAX);
    let full: Vec<i64> = occupancy::table
        .filter(occupancy::resource.eq(placement.resource.as_str()))
        .filter(occupancy::start_at.between(first, last))
        .filter(occupancy::booked.ge(limit))
        .select(occupancy::start_at)
        .load(connection)
        .map_err(storage_error)?;
    Ok(full.into_iter().any(|start| takes(placement, start)))
}

/// Takes one place in each slot with an update that itself refuses to pass the capacity, so
/// the count can never exceed it whatever a caller checked before.
pub(super) fn take<R: From<Unavailable>>(
    connection: &mut Db,
    resource: &Slug,
    starts: &[DateTime<Utc>],
    capacity: Capacity,
) -> Result<(), TxError<R>> {
    // Capacity::MAX is 10 000, far inside i32.
    let limit = i32::try_from(capacity.get()).unwrap_or(i32::MAX);
    for start in starts {
        let taken = TakePlace { resource: resource.as_str(), start_at: seconds(*start), limit }
            .execute(connection)?;
        if taken != 1 {
            return Err(TxError::Refused(R::from(Unavailable::Full { capacity })));
        }
    }
    Ok(())
}

/// Gives back one place in each slot.
pub(super) fn give_back(
    connection: &mut Db,
    resource: &Slug,
    starts: &[DateTime<Utc>],
) -> Result<(), diesel::result::Error> {
    for start in starts {
        GiveBackPlace { resource: resource.as_str(), start_at: seconds(*start) }
            .execute(connection)?;
    }
    Ok(())
}

/// Usage of every slot from `from` to `to`, both included.
pub(super) fn usage_between(
    connection: &mut Db,
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
