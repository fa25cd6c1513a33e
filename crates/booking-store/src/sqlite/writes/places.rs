//! The places appointments and holds take in the slots of a resource: judging a placement,
//! and taking and giving back places, always inside the caller's transaction.

use booking_core::{
    admission::{Admission, Unavailable, UsageMap},
    appointment::Appointment,
    calendar::placed_under,
    catalog::Slug,
    closure::Closure,
    placement::Placement,
    storage::StorageError,
    units::Capacity,
};
use chrono::{DateTime, Utc};
use diesel::{dsl::count_star, prelude::*};

use super::super::statements::{GiveBackPlace, TakePlace};

use crate::sql::{
    TxError,
    rows::{ClosureRow, closures_of, instant, seconds},
    schema::{calendar, closures, hold_slots, occupancy},
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
    connection: &mut SqliteConnection,
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
fn closures_over(
    connection: &mut SqliteConnection,
    placement: &Placement,
) -> Result<Vec<Closure>, StorageError> {
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

/// The first candidate the admission rule admits, or why the first was refused. Runs inside
/// the write transaction, which holds the database's one write lock: what it reads cannot change
/// before the write.
pub(super) fn first_admitted<'a>(
    connection: &mut SqliteConnection,
    candidates: &'a [Placement],
    admission: &Admission,
    own: Own<'_>,
) -> Result<Result<&'a Placement, Unavailable>, StorageError> {
    let stored: Option<i64> = calendar::table
        .select(calendar::version)
        .first(connection)
        .optional()
        .map_err(storage_error)?;
    let stored = stored.and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
    if let Err(changed) = placed_under(candidates, stored) {
        return Ok(Err(changed));
    }
    let mut first_refusal = None;
    for candidate in candidates {
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
    connection: &mut SqliteConnection,
    candidate: &Placement,
    admission: &Admission,
    own: Own<'_>,
) -> Result<Result<(), Unavailable>, StorageError> {
    let closures = closures_over(connection, candidate)?;
    let usage = usage_for(connection, candidate, admission.now(), own)?;
    Ok(admission.check(candidate, &closures, &usage))
}

/// Takes one place in each slot with an update that itself refuses to pass the capacity, so
/// the count can never exceed it whatever a caller checked before.
pub(super) fn take<R: From<Unavailable>>(
    connection: &mut SqliteConnection,
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
            return Err(TxError::refused(R::from(Unavailable::Full { capacity })));
        }
    }
    Ok(())
}

/// Gives back one place in each slot.
pub(in crate::sqlite) fn give_back(
    connection: &mut SqliteConnection,
    resource: &Slug,
    starts: &[DateTime<Utc>],
) -> Result<(), diesel::result::Error> {
    for start in starts {
        GiveBackPlace { resource: resource.as_str(), start_at: seconds(*start) }
            .execute(connection)?;
    }
    Ok(())
}
