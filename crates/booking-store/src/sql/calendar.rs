//! The calendar over SQL, the same on both backends: read whole, and replaced whole by a
//! change that is checked, in its transaction, against the stored version and against every
//! appointment that has not ended.

use std::num::NonZeroU16;

use booking_core::{
    calendar::{Calendar, CalendarChange, CalendarFailure, Override, StoredCalendar},
    catalog::{Resource, Service},
    hours::{DayHours, WeeklyHours},
    pending::Pending,
    repository::{Calendars, Written},
    storage::StorageError,
    stranded::stranded,
    units::{Capacity, SlotLength},
};
use chrono::{Duration, NaiveDate};
use diesel::prelude::*;

use super::{
    AnyConnection, SqlRepository, Store, TxError,
    rows::{AppointmentRow, corrupt, seconds, slug},
    schema::{
        appointments, calendar, calendar_overrides, calendar_performers, calendar_resources,
        calendar_services,
    },
    storage_error,
};

/// How far back a change looks for appointments that have not ended: one lies inside an
/// opening range of one local day, so one that started two days ago has ended (as
/// `BookingService::stranded` reasons too).
const LOOK_BACK: Duration = Duration::days(2);

impl<S: Store> Calendars for SqlRepository<S> {
    fn calendar(&self) -> Result<Option<StoredCalendar>, StorageError> {
        self.store.read(|connection| {
            // Five reads, each of the state committed when it starts: a change committed
            // between them would mix two versions. Versions only grow, so the same version
            // before and after means none was committed meanwhile.
            loop {
                let before = version(connection).map_err(storage_error)?;
                let read = read(connection)?;
                if version(connection).map_err(storage_error)? == before {
                    return Ok(read);
                }
            }
        })
    }

    fn store_calendar(
        &self,
        change: CalendarChange,
    ) -> Pending<Written<StoredCalendar>, CalendarFailure> {
        self.store.write(move |connection| {
            // Bookings, moves and holds take this lock shared before they look at the version:
            // once it is ours, none is under way, and none starts until this commits.
            (connection.dialect().lock_calendar)(connection)?;
            let current = version(connection)?;
            if current != change.after {
                return Err(TxError::refused(CalendarFailure::Stale { current }));
            }
            let rows: Vec<AppointmentRow> = appointments::table
                .filter(appointments::end_at.gt(seconds(change.now - LOOK_BACK)))
                .select(AppointmentRow::as_select())
                .load(connection)?;
            let appointments = rows
                .into_iter()
                .map(AppointmentRow::into_appointment)
                .collect::<Result<Vec<_>, _>>()?;
            let found = stranded(&change.schedule, &appointments, change.now);
            if !found.is_empty() {
                return Err(TxError::refused(CalendarFailure::Strands(found)));
            }
            let written = change.written();
            replace(connection, &written.outcome, seconds(change.now))?;
            Ok(written)
        })
    }
}

/// The stored version; 0 when none is stored.
fn version(connection: &mut AnyConnection) -> QueryResult<u64> {
    let version: Option<i64> =
        calendar::table.select(calendar::version).first(connection).optional()?;
    Ok(version.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
}

/// Replaces every stored row of the calendar with `stored`'s.
fn replace(connection: &mut AnyConnection, stored: &StoredCalendar, now: i64) -> QueryResult<()> {
    let StoredCalendar { version, calendar: next } = stored;
    diesel::delete(calendar_overrides::table).execute(connection)?;
    diesel::delete(calendar_performers::table).execute(connection)?;
    diesel::delete(calendar_services::table).execute(connection)?;
    diesel::delete(calendar_resources::table).execute(connection)?;
    diesel::delete(calendar::table).execute(connection)?;
    diesel::insert_into(calendar::table)
        .values((
            calendar::id.eq(1_i64),
            calendar::version.eq(i64::try_from(*version).unwrap_or(i64::MAX)),
            calendar::time_zone.eq(next.time_zone.name()),
            calendar::slot_minutes.eq(i64::from(next.slot_length.minutes())),
            calendar::changed_at.eq(now),
        ))
        .execute(connection)?;
    for (position, resource) in (0_i64..).zip(&next.resources) {
        diesel::insert_into(calendar_resources::table)
            .values((
                calendar_resources::slug.eq(resource.slug.as_str()),
                calendar_resources::position.eq(position),
                calendar_resources::name.eq(&resource.name),
                calendar_resources::hours.eq(resource.hours.to_string()),
                calendar_resources::capacity.eq(i64::from(resource.capacity.get())),
            ))
            .execute(connection)?;
    }
    for (position, service) in (0_i64..).zip(&next.services) {
        diesel::insert_into(calendar_services::table)
            .values((
                calendar_services::slug.eq(service.slug.as_str()),
                calendar_services::position.eq(position),
                calendar_services::name.eq(&service.name),
                calendar_services::slots.eq(i64::from(service.slots.get())),
                calendar_services::buffer_before.eq(i64::from(service.buffer_before)),
                calendar_services::buffer_after.eq(i64::from(service.buffer_after)),
                calendar_services::min_notice_minutes
                    .eq(service.min_notice.map(|d| d.num_minutes())),
                calendar_services::horizon_minutes.eq(service.horizon.map(|d| d.num_minutes())),
            ))
            .execute(connection)?;
        for (rank, resource) in (0_i64..).zip(&service.resources) {
            diesel::insert_into(calendar_performers::table)
                .values((
                    calendar_performers::service.eq(service.slug.as_str()),
                    calendar_performers::resource.eq(resource.as_str()),
                    calendar_performers::position.eq(rank),
                ))
                .execute(connection)?;
        }
    }
    for entry in &next.overrides {
        diesel::insert_into(calendar_overrides::table)
            .values((
                calendar_overrides::resource.eq(entry.resource.as_str()),
                calendar_overrides::date.eq(entry.date.to_string()),
                calendar_overrides::hours.eq(entry.hours.to_string()),
            ))
            .execute(connection)?;
    }
    Ok(())
}

type ServiceRow = (String, String, i64, i64, i64, Option<i64>, Option<i64>);

/// The stored calendar, read whole.
fn read(connection: &mut AnyConnection) -> Result<Option<StoredCalendar>, StorageError> {
    let head: Option<(i64, String, i64)> = calendar::table
        .select((calendar::version, calendar::time_zone, calendar::slot_minutes))
        .first(connection)
        .optional()
        .map_err(storage_error)?;
    let Some((version, time_zone, slot_minutes)) = head else { return Ok(None) };
    let resources: Vec<(String, String, String, i64)> = calendar_resources::table
        .order(calendar_resources::position)
        .select((
            calendar_resources::slug,
            calendar_resources::name,
            calendar_resources::hours,
            calendar_resources::capacity,
        ))
        .load(connection)
        .map_err(storage_error)?;
    let services: Vec<ServiceRow> = calendar_services::table
        .order(calendar_services::position)
        .select((
            calendar_services::slug,
            calendar_services::name,
            calendar_services::slots,
            calendar_services::buffer_before,
            calendar_services::buffer_after,
            calendar_services::min_notice_minutes,
            calendar_services::horizon_minutes,
        ))
        .load(connection)
        .map_err(storage_error)?;
    let performers: Vec<(String, String)> = calendar_performers::table
        .order((calendar_performers::service, calendar_performers::position))
        .select((calendar_performers::service, calendar_performers::resource))
        .load(connection)
        .map_err(storage_error)?;
    let overrides: Vec<(String, String, String)> = calendar_overrides::table
        .order((calendar_overrides::resource, calendar_overrides::date))
        .select((calendar_overrides::resource, calendar_overrides::date, calendar_overrides::hours))
        .load(connection)
        .map_err(storage_error)?;
    let calendar = Calendar {
        time_zone: time_zone.parse().map_err(|_| corrupt("time zone", &time_zone))?,
        slot_length: u32::try_from(slot_minutes)
            .ok()
            .and_then(|minutes| SlotLength::from_minutes(minutes).ok())
            .ok_or_else(|| corrupt("slot length", slot_minutes))?,
        resources: resources
            .into_iter()
            .map(|(slug_text, name, hours, capacity)| {
                Ok(Resource {
                    slug: slug(&slug_text)?,
                    name,
                    hours: hours.parse::<WeeklyHours>().map_err(|e| corrupt("hours", e))?,
                    capacity: u32::try_from(capacity)
                        .ok()
                        .and_then(|n| Capacity::new(n).ok())
                        .ok_or_else(|| corrupt("capacity", capacity))?,
                })
            })
            .collect::<Result<_, StorageError>>()?,
        services: services
            .into_iter()
            .map(|(slug_text, name, slots, before, after, notice, horizon)| {
                let count = |what: &str, n: i64| u16::try_from(n).map_err(|_| corrupt(what, n));
                Ok(Service {
                    resources: performers
                        .iter()
                        .filter(|(service, _)| *service == slug_text)
                        .map(|(_, resource)| slug(resource))
                        .collect::<Result<_, _>>()?,
                    slug: slug(&slug_text)?,
                    name,
                    slots: NonZeroU16::new(count("service length", slots)?)
                        .ok_or_else(|| corrupt("service length", slots))?,
                    buffer_before: count("buffer", before)?,
                    buffer_after: count("buffer", after)?,
                    min_notice: notice.map(Duration::minutes),
                    horizon: horizon.map(Duration::minutes),
                })
            })
            .collect::<Result<_, StorageError>>()?,
        overrides: overrides
            .into_iter()
            .map(|(resource, date, hours)| {
                Ok(Override {
                    resource: slug(&resource)?,
                    date: date.parse::<NaiveDate>().map_err(|_| corrupt("date", &date))?,
                    hours: hours.parse::<DayHours>().map_err(|e| corrupt("hours", e))?,
                })
            })
            .collect::<Result<_, StorageError>>()?,
    };
    let version = u64::try_from(version).map_err(|_| corrupt("version", version))?;
    Ok(Some(StoredCalendar { version, calendar }))
}
