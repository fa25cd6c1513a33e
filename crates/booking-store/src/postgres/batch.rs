//! What every kind of batched write shares: the function call with one array per field, the
//! answer row every batch function gives for each write (`batch_answer` in the migration
//! `*_writes_in_batches`), and how a write's answer reads back a key's record or a row as the
//! function found it.

use booking_core::{
    admission::{Admission, Unavailable},
    appointment::Appointment,
    catalog::Slug,
    idempotency::{Idempotency, Operation, Outcome, Remembered, Replay},
    placement::Placement,
    storage::{StorageError, WriteError},
};
use diesel::{
    QueryResult, QueryableByName,
    pg::Pg,
    query_builder::{AstPass, QueryFragment},
    sql_types::{Array, BigInt, Bool, Integer, Nullable, Text},
};

use super::Db;
use crate::sql::{
    Announced,
    rows::{AppointmentRow, instant, seconds, starts_text},
};

/// Declares the call of a batch function: a struct of one array per argument, some of them
/// borrowing for `'a`, whose `QueryFragment` writes `SELECT * FROM function($1, $2, ...)`; with
/// `@candidates field;` first, its first arguments are a [`Candidates`]' arrays. Prepared once per
/// connection, then only bound and run.
macro_rules! batch_call {
    (
        $(#[$meta:meta])*
        $name:ident = $function:literal {
            $(@candidates $candidates:ident;)?
            $(#[$first_meta:meta])* $first:ident: $first_rust:ty => $first_sql:ty
            $(, $(#[$field_meta:meta])* $field:ident: $rust:ty => $sql:ty)* $(,)?
        }
    ) => {
        $(#[$meta])*
        struct $name<'a> {
            $($candidates: super::batch::Candidates<'a>,)?
            $(#[$first_meta])* $first: $first_rust,
            $($(#[$field_meta])* $field: $rust,)*
        }

        function_call!($name);

        impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for $name<'_> {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
            ) -> diesel::QueryResult<()> {
                out.push_sql(concat!("SELECT * FROM ", $function, "("));
                $(self.$candidates.walk_ast(out.reborrow())?;)?
                out.push_bind_param::<$first_sql, _>(&self.$first)?;
                $(
                    out.push_sql(", ");
                    out.push_bind_param::<$sql, _>(&self.$field)?;
                )*
                out.push_sql(")");
                Ok(())
            }
        }
    };
}

/// What a batch function answers for one write (see `batch_answer` in the migration).
#[derive(Debug, QueryableByName)]
pub(super) struct Answer {
    /// The write's number in the batch, from 1.
    #[diesel(sql_type = Integer)]
    pub op: i32,
    #[diesel(sql_type = Text)]
    pub answer: String,
    /// The candidate the answer is about, numbered from 1 in the write's list.
    #[diesel(sql_type = Nullable<Integer>)]
    pub rank: Option<i32>,
    /// A closure's reason.
    #[diesel(sql_type = Nullable<Text>)]
    pub reason: Option<String>,
    /// When a closure ends, or a holder's first hold.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub until_at: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub key_operation: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub key_fingerprint: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub key_created_at: Option<i64>,
    /// An appointment's id, or a hold's token.
    #[diesel(sql_type = Nullable<Text>)]
    pub id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub client_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub notes: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub resource: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub service: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub start_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub end_at: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub occupied: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub status: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub created_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub updated_at: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub email: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub phone: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub expires_at: Option<i64>,
}

/// A column the function always fills for this answer, missing.
fn missing(column: &str, answer: &str) -> StorageError {
    StorageError::fault(format!("a batch function answered `{answer}` without `{column}`"))
}

impl Answer {
    /// The appointment row the answer carries (as the function found it, or as the key
    /// remembered it).
    pub(super) fn appointment_row(&mut self) -> Result<AppointmentRow, StorageError> {
        let answer = &self.answer;
        let take = |value: &mut Option<String>, column| {
            value.take().ok_or_else(|| missing(column, answer))
        };
        let number = |value: Option<i64>, column| value.ok_or_else(|| missing(column, answer));
        Ok(AppointmentRow {
            id: take(&mut self.id, "id")?,
            client_name: take(&mut self.client_name, "client_name")?,
            notes: self.notes.take(),
            start_at: number(self.start_at, "start_at")?,
            end_at: number(self.end_at, "end_at")?,
            status: take(&mut self.status, "status")?,
            created_at: number(self.created_at, "created_at")?,
            updated_at: number(self.updated_at, "updated_at")?,
            resource: take(&mut self.resource, "resource")?,
            service: self.service.take(),
            occupied: take(&mut self.occupied, "occupied")?,
            email: self.email.take(),
            phone: self.phone.take(),
        })
    }

    /// The appointment the answer carries.
    pub(super) fn appointment(&mut self) -> Result<Appointment, StorageError> {
        self.appointment_row()?.into_appointment()
    }

    /// What a `replayed` answer's key remembers, judged as the core judges a repeat of
    /// `operation`: the first outcome, or a key used for another request.
    pub(super) fn replay<T, R>(
        &mut self,
        operation: Operation,
        idempotency: Option<&Idempotency>,
    ) -> Result<Outcome<T>, WriteError<R>> {
        let Some(idempotency) = idempotency else {
            return Err(WriteError::Storage(missing("an idempotency key", &self.answer)));
        };
        let made: Operation = self
            .key_operation
            .as_deref()
            .and_then(|operation| operation.parse().ok())
            .ok_or_else(|| missing("key_operation", &self.answer))?;
        let remembered = Remembered {
            operation: made,
            fingerprint: self
                .key_fingerprint
                .take()
                .ok_or_else(|| missing("key_fingerprint", &self.answer))?,
            created_at: instant(
                self.key_created_at.ok_or_else(|| missing("key_created_at", &self.answer))?,
            )?,
            appointment: self.appointment()?,
        };
        match idempotency.replay(operation, remembered) {
            Replay::Same(appointment) => Ok(Outcome::Replayed(appointment)),
            Replay::Other => Err(WriteError::KeyReused),
            // The function forgot records past their lifetime before reading the others.
            Replay::Forgotten => Err(WriteError::Storage(StorageError::fault(
                "a batch function replayed a record past its lifetime",
            ))),
        }
    }

    /// An answer this kind of write never gets.
    pub(super) fn unexpected(&self, function: &str) -> StorageError {
        StorageError::fault(format!(
            "{function} answered `{}`, which it never answers",
            self.answer
        ))
    }
}

/// How one write of a batch went.
pub(super) enum Verdict<T, R> {
    /// Its answer: the batch committed (or failed) with it.
    Answer(Result<T, WriteError<R>>),
    /// It touches what an earlier write of the batch touches: it waits for the next batch.
    Again,
}

/// One kind of write that PostgreSQL decides and makes many at a time, in one call of one
/// function (and so one transaction).
pub(super) trait Kind: 'static {
    /// One write, as queued.
    type Write: Send + 'static;
    /// What a write that is done answers.
    type Output: Announced + Send + 'static;
    /// Why a write may be refused.
    type Refusal: Send + 'static;
    /// The function, for logs and faults.
    const FUNCTION: &'static str;

    /// The answer of a write that needs nothing stored (every candidate's time is refused),
    /// given without the database.
    fn settled(write: &Self::Write) -> Option<Result<Self::Output, WriteError<Self::Refusal>>>;

    /// Calls the function for `writes` (none of them settled), in one statement.
    fn call(connection: &mut Db, writes: &[&Self::Write]) -> QueryResult<Vec<Answer>>;

    /// What the function's `answer` to `write` means.
    fn verdict(write: &Self::Write, answer: Answer) -> Verdict<Self::Output, Self::Refusal>;
}

/// The answers of a batch function, one per write of `count`, each in its place: an answer
/// missing or numbered out of the batch is a fault of the function's.
pub(super) fn by_write(
    answers: Vec<Answer>,
    count: usize,
    function: &str,
) -> Result<Vec<Answer>, StorageError> {
    let mut placed: Vec<Option<Answer>> = std::iter::repeat_with(|| None).take(count).collect();
    for answer in answers {
        let slot = usize::try_from(answer.op - 1)
            .ok()
            .and_then(|index| placed.get_mut(index))
            .filter(|slot| slot.is_none())
            .ok_or_else(|| {
                StorageError::fault(format!("{function} answered write {} of {count}", answer.op))
            })?;
        *slot = Some(answer);
    }
    placed
        .into_iter()
        .enumerate()
        .map(|(n, answer)| {
            answer.ok_or_else(|| {
                StorageError::fault(format!("{function} did not answer write {} of {count}", n + 1))
            })
        })
        .collect()
}

/// Why the write was refused, from its function's `answer` about one of `candidates` (`closed`,
/// `full` or `held`, about the first candidate it judged), and the times the server judged:
/// the first refusal is the first candidate's, whichever part of the rule refused it, as
/// `Admission::check` judges candidates in order.
pub(super) fn refusal(
    answer: &Answer,
    candidates: &[Placement],
    admission: &Admission,
) -> Result<Unavailable, StorageError> {
    let judged = answer
        .rank
        .and_then(|rank| usize::try_from(rank - 1).ok())
        .filter(|index| *index < candidates.len())
        .ok_or_else(|| missing("rank", &answer.answer))?;
    let earlier_time_refusal = candidates[..judged]
        .iter()
        .find_map(|candidate| admission.check_time(candidate.slot.start()).err());
    if let Some(why) = earlier_time_refusal {
        return Ok(why);
    }
    let candidate = &candidates[judged];
    match answer.answer.as_str() {
        "closed" => Ok(Unavailable::Closed {
            reason: answer.reason.clone(),
            until: instant(answer.until_at.ok_or_else(|| missing("until_at", &answer.answer))?)?,
        }),
        "full" => Ok(Unavailable::Full { capacity: candidate.capacity }),
        "held" => Ok(Unavailable::Held),
        // The hold's candidate, whose time the server refused.
        "untimely" => admission.check_time(candidate.slot.start()).err().ok_or_else(|| {
            StorageError::fault("a batch function refused a timely candidate's time")
        }),
        other => Err(StorageError::fault(format!("`{other}` is not a refusal of a place"))),
    }
}

/// The version of the calendar a write's candidates were placed under, for `calendar_changed`
/// in the migration `*_calendar` to compare with the stored one; -1 (never stored) when they
/// disagree, so that the write is refused.
pub(super) fn placed_under(candidates: &[Placement]) -> i64 {
    match candidates {
        [first, rest @ ..] if rest.iter().all(|c| c.calendar == first.calendar) => {
            i64::try_from(first.calendar).unwrap_or(-1)
        }
        _ => -1,
    }
}

/// The candidate numbered `rank` (from 1) in `candidates`.
pub(super) fn candidate<'a>(
    answer: &Answer,
    candidates: &'a [Placement],
) -> Result<&'a Placement, StorageError> {
    answer
        .rank
        .and_then(|rank| usize::try_from(rank - 1).ok())
        .and_then(|index| candidates.get(index))
        .ok_or_else(|| missing("rank", &answer.answer))
}

/// The answer of a write none of whose candidates' times can be booked now (and so that needs
/// nothing stored): the first candidate's refusal.
pub(super) fn untimely(candidates: &[Placement], admission: &Admission) -> Option<Unavailable> {
    let mut refusals = candidates.iter().map(|c| admission.check_time(c.slot.start()));
    match refusals.next() {
        None => Some(Unavailable::OutsideHours),
        Some(Ok(())) => None,
        Some(Err(first)) => refusals.all(|refusal| refusal.is_err()).then_some(first),
    }
}

/// The arrays of a batch's candidates (the functions' first arguments, `c_*`, in this order,
/// each followed by a comma): one element per candidate, each write's in its order of
/// preference.
#[derive(Default)]
pub(super) struct Candidates<'a> {
    op: Vec<i32>,
    rank: Vec<i32>,
    timely: Vec<bool>,
    resource: Vec<&'a str>,
    capacity: Vec<i32>,
    start: Vec<i64>,
    end: Vec<i64>,
    occupied: Vec<String>,
    service: Vec<Option<&'a str>>,
}

impl QueryFragment<Pg> for Candidates<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<Array<Integer>, _>(&self.op)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Integer>, _>(&self.rank)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Bool>, _>(&self.timely)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.resource)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Integer>, _>(&self.capacity)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.start)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.end)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.occupied)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.service)?;
        out.push_sql(", ");
        Ok(())
    }
}

impl<'a> Candidates<'a> {
    /// The candidates of each of `writes` (numbered from 1), as `of` gives them with the
    /// admission rule that judges their times.
    pub(super) fn of<W>(
        writes: &[&'a W],
        of: impl Fn(&'a W) -> (&'a [Placement], &'a Admission),
    ) -> Self {
        let mut all = Self::default();
        for (n, write) in writes.iter().enumerate() {
            let (candidates, admission) = of(write);
            all.add(n + 1, candidates, admission);
        }
        all
    }

    /// Adds the candidates of write `op` (from 1), judged at `admission`.
    fn add(&mut self, op: usize, candidates: &'a [Placement], admission: &Admission) {
        for (rank, candidate) in candidates.iter().enumerate() {
            self.op.push(number(op));
            self.rank.push(number(rank + 1));
            self.timely.push(admission.check_time(candidate.slot.start()).is_ok());
            self.resource.push(candidate.resource.as_str());
            // Capacity::MAX is 10 000, far inside i32.
            self.capacity.push(i32::try_from(candidate.capacity.get()).unwrap_or(i32::MAX));
            self.start.push(seconds(candidate.slot.start()));
            self.end.push(seconds(candidate.slot.end()));
            self.occupied.push(starts_text(&candidate.occupied));
            self.service.push(candidate.service.as_ref().map(Slug::as_str));
        }
    }
}

/// A write's or candidate's number (from 1) as the functions take it; a batch holds at most
/// `writer::MAX_BATCH` writes, and a write a handful of candidates.
pub(super) fn number(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// When the oldest record a write's key may replay was made (records made then or before are
/// forgotten), in seconds; a write without a key has nothing to forget.
pub(super) fn key_since(idempotency: Option<&Idempotency>) -> i64 {
    idempotency.map_or(i64::MIN, |key| seconds(key.oldest_remembered()))
}
