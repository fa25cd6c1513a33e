//! Bookings in batches: one call of `book_appointments` (migration `*_writes_in_batches`) books
//! every booking a writer took, plain, keyed or converting a hold.
//!
//! The server judges each candidate's time (it depends on nothing stored) and builds each
//! appointment; the function replays keys, checks holds, judges what is stored as the core's
//! `Admission::check` does, and writes the appointments, their history and their keys' records.
//! Its answer says which candidate each booking got, or why it was refused; the server answers
//! with the same `Written` the other stores build. The contract suite and the property tests
//! ("what the listing offers is what booking accepts") hold the function to the core's rule.

use booking_core::{
    admission::{Admission, Unavailable},
    appointment::Appointment,
    idempotency::{Idempotency, Operation, Outcome},
    repository::{BookFailure, Booking, HoldNotFound, Written},
    storage::{StorageError, WriteError},
};
use diesel::{
    QueryResult, RunQueryDsl,
    sql_types::{Array, BigInt, Nullable, Text},
};

use super::{
    Db,
    batch::{
        Answer, Candidates, Kind, Verdict, candidate, key_since, placed_under, refusal, untimely,
    },
};
use crate::sql::rows::seconds;

/// Bookings, as a kind of batched write.
pub(super) struct Books;

/// A booking to make, as the port hands it over.
pub(super) struct BookWrite {
    pub booking: Booking,
    pub admission: Admission,
    pub idempotency: Option<Idempotency>,
}

batch_call!(
    /// The call, with one element per candidate and per booking (`o_*`).
    BookAppointments = "gated_book_appointments" {
        @candidates candidates;
        o_id: Vec<String> => Array<Text>,
        o_client_name: Vec<&'a str> => Array<Text>,
        o_notes: Vec<Option<&'a str>> => Array<Nullable<Text>>,
        o_email: Vec<Option<&'a str>> => Array<Nullable<Text>>,
        o_phone: Vec<Option<&'a str>> => Array<Nullable<Text>>,
        o_actor: Vec<&'a str> => Array<Text>,
        o_hold: Vec<Option<&'a str>> => Array<Nullable<Text>>,
        o_key: Vec<Option<&'a str>> => Array<Nullable<Text>>,
        o_fingerprint: Vec<Option<&'a str>> => Array<Nullable<Text>>,
        o_now: Vec<i64> => Array<BigInt>,
        o_key_since: Vec<i64> => Array<BigInt>,
        o_calendar: Vec<i64> => Array<BigInt>,
    }
);

impl Kind for Books {
    type Write = BookWrite;
    type Output = Outcome<Written<Appointment>>;
    type Refusal = BookFailure;
    const FUNCTION: &'static str = "book_appointments";

    fn settled(write: &BookWrite) -> Option<Result<Self::Output, WriteError<BookFailure>>> {
        // A key replays whatever the times are now; a hold is looked for first.
        if write.idempotency.is_some() || write.booking.hold.is_some() {
            return None;
        }
        untimely(&write.booking.candidates, &write.admission)
            .map(|why| Err(WriteError::Refused(why.into())))
    }

    fn call(connection: &mut Db, writes: &[&BookWrite]) -> QueryResult<Vec<Answer>> {
        let each =
            |field: fn(&BookWrite) -> Option<&str>| writes.iter().map(|w| field(w)).collect();
        BookAppointments {
            candidates: Candidates::of(writes, |w| (&w.booking.candidates, &w.admission)),
            o_id: writes.iter().map(|w| w.booking.id.to_string()).collect(),
            o_client_name: writes.iter().map(|w| w.booking.client_name.as_str()).collect(),
            o_notes: each(|w| w.booking.notes.as_ref().map(|notes| notes.as_str())),
            o_email: each(|w| w.booking.contact.email.as_ref().map(|email| email.as_str())),
            o_phone: each(|w| w.booking.contact.phone.as_ref().map(|phone| phone.as_str())),
            o_actor: writes.iter().map(|w| w.booking.by.as_str()).collect(),
            o_hold: each(|w| w.booking.hold.as_ref().map(|token| token.as_str())),
            o_key: each(|w| w.idempotency.as_ref().map(|key| key.key.as_str())),
            o_fingerprint: each(|w| w.idempotency.as_ref().map(|key| key.fingerprint.as_str())),
            o_now: writes.iter().map(|w| seconds(w.admission.now())).collect(),
            o_key_since: writes.iter().map(|w| key_since(w.idempotency.as_ref())).collect(),
            o_calendar: writes.iter().map(|w| placed_under(&w.booking.candidates)).collect(),
        }
        .load(connection)
    }

    fn verdict(write: &BookWrite, mut answer: Answer) -> Verdict<Self::Output, BookFailure> {
        let BookWrite { booking, admission, idempotency } = write;
        let refused = |why: BookFailure| Verdict::Answer(Err(WriteError::Refused(why)));
        let fault = |error: StorageError| Verdict::Answer(Err(WriteError::Storage(error)));
        match answer.answer.as_str() {
            "booked" => match candidate(&answer, &booking.candidates) {
                Ok(placement) => {
                    let appointment = booking.appointment_at(placement, admission.now());
                    Verdict::Answer(Ok(Outcome::Done(Written::scheduled(appointment, booking.by))))
                }
                Err(error) => fault(error),
            },
            "replayed" => Verdict::Answer(answer.replay(Operation::Book, idempotency.as_ref())),
            "calendar-changed" => refused(Unavailable::CalendarChanged.into()),
            "closed" | "full" | "held" | "untimely" => {
                match refusal(&answer, &booking.candidates, admission) {
                    Ok(why) => refused(why.into()),
                    Err(error) => fault(error),
                }
            }
            // No such active hold: converted, released or expired.
            "gone" => refused(HoldNotFound.into()),
            "mismatch" => refused(BookFailure::HoldMismatch),
            "again" => Verdict::Again,
            _ => fault(answer.unexpected(Self::FUNCTION)),
        }
    }
}
