//! Holds in batches: one call of `take_holds` takes every hold a writer was asked for, and one
//! call of `release_holds` releases every hold it was asked to release (migration
//! `*_writes_in_batches`).
//!
//! Taking a hold is judged as a booking is (the server the times, the function what is stored),
//! with the holder's cap counted by the function under the holder's lock, so that a holder's
//! holds on two servers take turns and never pass it.

use booking_core::{
    admission::{Admission, Unavailable},
    hold::{Hold, HoldToken},
    repository::{HoldFailure, HoldNotFound, HoldRequest, Written},
    storage::{StorageError, WriteError},
};
use chrono::{DateTime, Utc};
use diesel::{
    QueryResult, RunQueryDsl,
    sql_types::{Array, BigInt, Integer, Nullable, Text},
};

use super::{
    Db,
    batch::{Answer, Candidates, Kind, Verdict, candidate, placed_under, refusal, untimely},
};
use crate::sql::rows::{HoldRow, instant, seconds, starts_of};

/// Holds to take, as a kind of batched write.
pub(super) struct Holds;

/// A hold to take, as the port hands it over.
pub(super) struct HoldWrite {
    pub request: HoldRequest,
    pub admission: Admission,
}

batch_call!(
    /// The call, with one element per candidate and per hold (`o_*`).
    TakeHolds = "gated_take_holds" {
        @candidates candidates;
        o_token: Vec<&'a str> => Array<Text>,
        o_expires_at: Vec<i64> => Array<BigInt>,
        o_holder: Vec<Option<&'a str>> => Array<Nullable<Text>>,
        o_most: Vec<Option<i32>> => Array<Nullable<Integer>>,
        o_now: Vec<i64> => Array<BigInt>,
        o_calendar: Vec<i64> => Array<BigInt>,
    }
);

impl Kind for Holds {
    type Write = HoldWrite;
    type Output = Written<Hold>;
    type Refusal = HoldFailure;
    const FUNCTION: &'static str = "take_holds";

    fn settled(write: &HoldWrite) -> Option<Result<Written<Hold>, WriteError<HoldFailure>>> {
        untimely(&write.request.candidates, &write.admission)
            .map(|why| Err(WriteError::Refused(why.into())))
    }

    fn call(connection: &mut Db, writes: &[&HoldWrite]) -> QueryResult<Vec<Answer>> {
        let quotas = || writes.iter().map(|w| w.request.quota.as_ref());
        TakeHolds {
            candidates: Candidates::of(writes, |w| (&w.request.candidates, &w.admission)),
            o_token: writes.iter().map(|w| w.request.token.as_str()).collect(),
            o_expires_at: writes.iter().map(|w| seconds(w.request.expires_at)).collect(),
            o_holder: quotas().map(|quota| quota.map(|quota| quota.holder.as_str())).collect(),
            o_most: quotas().map(|quota| quota.map(|quota| i32::from(quota.most.get()))).collect(),
            o_now: writes.iter().map(|w| seconds(w.admission.now())).collect(),
            o_calendar: writes.iter().map(|w| placed_under(&w.request.candidates)).collect(),
        }
        .load(connection)
    }

    fn verdict(write: &HoldWrite, answer: Answer) -> Verdict<Written<Hold>, HoldFailure> {
        let HoldWrite { request, admission } = write;
        let answered = match answer.answer.as_str() {
            "taken" => candidate(&answer, &request.candidates)
                .map(|placement| Written::hold_taken(request.hold_at(placement, admission.now())))
                .map_err(WriteError::Storage),
            "too_many" => match (&request.quota, answer.until_at) {
                (Some(quota), Some(first_ends)) => {
                    instant(first_ends).map_err(WriteError::Storage).and_then(|frees_at| {
                        Err(WriteError::Refused(HoldFailure::TooMany {
                            most: quota.most,
                            frees_at,
                        }))
                    })
                }
                _ => Err(answer.unexpected(Self::FUNCTION).into()),
            },
            "calendar-changed" => Err(WriteError::Refused(Unavailable::CalendarChanged.into())),
            "closed" | "full" | "held" => refusal(&answer, &request.candidates, admission)
                .map_err(WriteError::Storage)
                .and_then(|why| Err(WriteError::Refused(why.into()))),
            "again" => return Verdict::Again,
            _ => Err(answer.unexpected(Self::FUNCTION).into()),
        };
        Verdict::Answer(answered)
    }
}

/// Holds to release, as a kind of batched write.
pub(super) struct Releases;

/// A hold to release at `now`, as the port hands it over.
pub(super) struct ReleaseWrite {
    pub token: HoldToken,
    pub now: DateTime<Utc>,
}

batch_call!(
    /// The call, with one element per release.
    ReleaseHolds = "release_holds" {
        o_token: Vec<&'a str> => Array<Text>,
        o_now: Vec<i64> => Array<BigInt>,
    }
);

impl Kind for Releases {
    type Write = ReleaseWrite;
    type Output = Written<Hold>;
    type Refusal = HoldNotFound;
    const FUNCTION: &'static str = "release_holds";

    fn settled(_: &ReleaseWrite) -> Option<Result<Written<Hold>, WriteError<HoldNotFound>>> {
        None
    }

    fn call(connection: &mut Db, writes: &[&ReleaseWrite]) -> QueryResult<Vec<Answer>> {
        ReleaseHolds {
            o_token: writes.iter().map(|w| w.token.as_str()).collect(),
            o_now: writes.iter().map(|w| seconds(w.now)).collect(),
        }
        .load(connection)
    }

    fn verdict(write: &ReleaseWrite, answer: Answer) -> Verdict<Written<Hold>, HoldNotFound> {
        match answer.answer.as_str() {
            "released" => Verdict::Answer(
                released(answer)
                    .map(|hold| Written::hold_released(hold, write.now))
                    .map_err(WriteError::Storage),
            ),
            // No such active hold: converted, released or expired (the sweep's to delete).
            "gone" => Verdict::Answer(Err(WriteError::Refused(HoldNotFound))),
            "again" => Verdict::Again,
            _ => Verdict::Answer(Err(answer.unexpected(Self::FUNCTION).into())),
        }
    }
}

/// The hold a `released` answer describes, as it was.
fn released(answer: Answer) -> Result<Hold, StorageError> {
    let missing = || StorageError::fault("release_holds answered `released` without the hold");
    let row = HoldRow {
        token: answer.id.ok_or_else(missing)?,
        resource: answer.resource.ok_or_else(missing)?,
        service: answer.service,
        start_at: answer.start_at.ok_or_else(missing)?,
        end_at: answer.end_at.ok_or_else(missing)?,
        created_at: answer.created_at.ok_or_else(missing)?,
        expires_at: answer.expires_at.ok_or_else(missing)?,
        holder: None,
    };
    let occupied: Vec<i64> =
        starts_of(&answer.occupied.ok_or_else(missing)?)?.into_iter().map(seconds).collect();
    row.into_hold(&occupied)
}
