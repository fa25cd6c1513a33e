//! A booking in one round trip: PostgreSQL runs the whole write, as one statement calling the
//! `book_first_free` function that the migrations install (its latest version in
//! `*_book_in_one_upsert/up.sql`), and so as its own transaction: no `BEGIN`, no `COMMIT`, and
//! nothing else for the server to wait for.
//!
//! The function takes the same locks in the same order as the shared transaction (the closures
//! lock shared, then each candidate's slot rows by time), and judges what is stored as the
//! core's `Admission::check` does; the server judges the times first (they depend on nothing
//! stored) and builds each candidate's row. The contract suite and the
//! property tests ("what the listing offers is what booking accepts") hold it to the same
//! answers as the shared path, which SQLite and keyed bookings still take. A booking that
//! converts a hold reads the hold first (two queries), then makes the call: three round trips.

use booking_core::{
    admission::{Admission, Unavailable},
    appointment::Appointment,
    repository::{BookFailure, Booking, HoldNotFound, Written},
};
use diesel::{
    pg::Pg,
    prelude::*,
    query_builder::{AstPass, QueryFragment},
    sql_types::{Array, BigInt, Integer, Nullable, Text},
};

use super::{
    Db, TxError, records,
    rows::{AppointmentRow, instant, seconds},
};

/// The call, with one array element per candidate (the appointment it would make).
struct BookFirstFree<'a> {
    resources: Vec<&'a str>,
    capacities: Vec<i32>,
    starts_at: Vec<i64>,
    ends_at: Vec<i64>,
    occupied: Vec<&'a str>,
    services: Vec<Option<&'a str>>,
    id: &'a str,
    client_name: &'a str,
    notes: Option<&'a str>,
    now: i64,
    /// The hold the booking converts, if it does.
    hold: Option<&'a str>,
    /// Who books, for the appointment's history.
    actor: &'static str,
    email: Option<&'a str>,
    phone: Option<&'a str>,
}

function_call!(BookFirstFree);

impl QueryFragment<Pg> for BookFirstFree<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT admitted, refused, reason, until_at FROM book_first_free(");
        out.push_bind_param::<Array<Text>, _>(&self.resources)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Integer>, _>(&self.capacities)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.starts_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.ends_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.occupied)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.services)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.client_name)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.notes)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.now)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.hold)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.actor)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.email)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.phone)?;
        out.push_sql(")");
        Ok(())
    }
}

/// What the function answers: the admitted candidate (1-based, among those passed), or why
/// the first one passed was refused.
#[derive(QueryableByName)]
struct Answer {
    #[diesel(sql_type = Nullable<Integer>)]
    admitted: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    refused: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    reason: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    until_at: Option<i64>,
}

/// Books the first candidate that is free, in one statement (run outside any transaction); a
/// booking that converts a hold reads the hold first, to find its candidate, as the shared
/// path does.
pub(super) fn book(
    connection: &mut Db,
    booking: &Booking,
    admission: &Admission,
) -> Result<Written<Appointment>, TxError<BookFailure>> {
    let now = admission.now();
    let candidates = match &booking.hold {
        Some(token) => {
            std::slice::from_ref(records::held_candidate(connection, booking, token, now)?)
        }
        None => booking.candidates.as_slice(),
    };
    // Times first, as `Admission::check` judges them: the first refusal is the first
    // candidate's, whichever part of the rule refused it.
    let mut time_refusal = None;
    let mut timely = Vec::with_capacity(candidates.len());
    for (n, candidate) in candidates.iter().enumerate() {
        match admission.check_time(candidate.slot.start()) {
            Ok(()) => timely.push(n),
            Err(why) => {
                time_refusal.get_or_insert((n, why));
            }
        }
    }
    let Some(&first_timely) = timely.first() else {
        let why = time_refusal.map_or(Unavailable::OutsideHours, |(_, why)| why);
        return Err(TxError::Refused(why.into()));
    };
    let mut written: Vec<Written<Appointment>> = timely
        .iter()
        .map(|n| Written::scheduled(booking.appointment_at(&candidates[*n], now), booking.by))
        .collect();
    let rows: Vec<AppointmentRow> =
        written.iter().map(|written| AppointmentRow::from(&written.outcome)).collect();
    let call = BookFirstFree {
        resources: rows.iter().map(|row| row.resource.as_str()).collect(),
        capacities: timely
            .iter()
            // Capacity::MAX is 10 000, far inside i32.
            .map(|n| i32::try_from(candidates[*n].capacity.get()).unwrap_or(i32::MAX))
            .collect(),
        starts_at: rows.iter().map(|row| row.start_at).collect(),
        ends_at: rows.iter().map(|row| row.end_at).collect(),
        occupied: rows.iter().map(|row| row.occupied.as_str()).collect(),
        services: rows.iter().map(|row| row.service.as_deref()).collect(),
        id: &rows[0].id,
        client_name: &rows[0].client_name,
        notes: rows[0].notes.as_deref(),
        now: seconds(now),
        hold: booking.hold.as_ref().map(|token| token.as_str()),
        actor: booking.by.as_str(),
        email: rows[0].email.as_deref(),
        phone: rows[0].phone.as_deref(),
    };
    let answer: Answer = call.get_result(connection)?;
    if let Some(admitted) = answer.admitted {
        let index = usize::try_from(admitted - 1)
            .ok()
            .filter(|index| *index < written.len())
            .ok_or_else(|| {
                booking_core::storage::StorageError::fault(format!(
                    "book_first_free admitted candidate {admitted} of {}",
                    written.len()
                ))
            })?;
        return Ok(written.swap_remove(index));
    }
    let stored_refusal = match answer.refused.as_deref() {
        Some("closed") => Unavailable::Closed {
            reason: answer.reason,
            until: instant(answer.until_at.unwrap_or_default())?,
        },
        Some("full") => Unavailable::Full { capacity: candidates[first_timely].capacity },
        Some("held") => Unavailable::Held,
        // Converted or released by another request since it was read.
        Some("gone") => return Err(TxError::Refused(HoldNotFound.into())),
        other => {
            return Err(TxError::Storage(booking_core::storage::StorageError::fault(format!(
                "book_first_free answered an unknown refusal: {other:?}"
            ))));
        }
    };
    let why = match time_refusal {
        Some((n, why)) if n < first_timely => why,
        _ => stored_refusal,
    };
    Err(TxError::Refused(why.into()))
}
