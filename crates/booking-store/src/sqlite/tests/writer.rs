//! The writer's batches: deadlines, a full queue, a write that panics, a commit that fails.

use std::{
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use booking_core::{
    pending::Pending,
    storage::{StorageErrorKind, WriteError},
};
use diesel::connection::SimpleConnection;

use super::*;
use crate::sqlite::writer::QUEUE;

/// A write that does nothing until `release` sends (or is dropped), so that the writes queued
/// meanwhile run after it, together, in its transaction.
fn hold_the_writer(database: &TestDatabase) -> (mpsc::Sender<()>, Pending<(), ()>) {
    let (release, wait) = mpsc::channel::<()>();
    let (started, has_started) = mpsc::channel();
    let blocker = database.store().write(move |_| {
        let _started = started.send(());
        let _released_or_dropped = wait.recv();
        Ok::<_, TxError<()>>(())
    });
    has_started.recv().unwrap();
    (release, blocker)
}

/// A booking of Monday 2030-01-07 at `time` on the default schedule.
fn booking_at(time: &str) -> Booking {
    let schedule = Schedule::default();
    let placement = schedule
        .place("2030-01-07".parse().unwrap(), time.parse().unwrap(), &schedule.resources()[0], None)
        .unwrap();
    Booking { candidates: vec![placement], ..monday_nine().0 }
}

fn storage_kind<T: std::fmt::Debug, R: std::fmt::Debug>(
    answer: Result<T, WriteError<R>>,
) -> StorageErrorKind {
    match answer {
        Err(WriteError::Storage(error)) => error.kind(),
        other => panic!("expected a storage failure, got {other:?}"),
    }
}

fn booked_on_monday(database: &TestDatabase) -> u32 {
    let day = |text: &str| text.parse().unwrap();
    let usage =
        database.usage(None, day("2030-01-07T00:00:00Z"), day("2030-01-08T00:00:00Z"), day(NOW));
    usage.unwrap().values().map(|u| u.booked).sum()
}

const NOW: &str = "2030-01-01T00:00:00Z";

#[test]
fn a_write_whose_deadline_passed_in_the_queue_is_never_applied() {
    let database = TestDatabase::with(StoreOptions {
        busy_timeout: Duration::from_millis(50),
        ..StoreOptions::default()
    });
    let (release, blocker) = hold_the_writer(&database);
    let (booking, admission) = monday_nine();
    let id = booking.id;
    let late = database.book(booking, admission, None);
    // Longer than the deadline: the booking is still queued when it passes.
    thread::sleep(Duration::from_millis(150));
    drop(release);
    blocker.wait().unwrap();
    assert_eq!(storage_kind(late.wait()), StorageErrorKind::Unavailable);
    // The writer goes on; a later write commits, and the late one never does.
    database.book(booking_at("10:00:00"), admission, None).wait().unwrap();
    assert_eq!(database.get(id).unwrap(), None);
    assert_eq!(booked_on_monday(&database), 1);
}

#[test]
fn a_write_waits_for_another_process_lock_no_longer_than_its_deadline() {
    let database = TestDatabase::with(StoreOptions {
        busy_timeout: Duration::from_millis(200),
        ..StoreOptions::default()
    });
    let mut other_process = database.connection();
    other_process.batch_execute("BEGIN IMMEDIATE").unwrap();
    let (booking, admission) = monday_nine();
    let started = Instant::now();
    let queued: Vec<_> = (0..8)
        .map(|n| {
            let time = format!("{:02}:00:00", 9 + n);
            (n, database.book(booking_at(&time), admission, None))
        })
        .collect();
    for (_, pending) in queued {
        assert_eq!(storage_kind(pending.wait()), StorageErrorKind::Unavailable);
    }
    // Each write's wait is bounded by its own deadline, not by the writes queued before it
    // (eight writes waiting one after the other would take 1.6 s). The bound is generous: it
    // tells the two behaviours apart, it does not time the writer.
    assert!(started.elapsed() < Duration::from_millis(1_200), "{:?}", started.elapsed());
    other_process.batch_execute("COMMIT").unwrap();
    database.book(booking, admission, None).wait().unwrap();
    assert_eq!(booked_on_monday(&database), 1, "the refused writes were never applied");
}

#[test]
fn a_panicking_write_fails_alone_and_its_neighbours_commit() {
    let database = TestDatabase::new();
    let (release, blocker) = hold_the_writer(&database);
    let (before, admission) = (booking_at("09:00:00"), monday_nine().1);
    let first = database.book(before, admission, None);
    let panicking: Pending<(), ()> = database.store().write(|connection| {
        diesel::sql_query("INSERT INTO occupancy VALUES ('default', 1, 1)").execute(connection)?;
        panic!("a bug in a write");
    });
    let after = database.book(booking_at("09:30:00"), admission, None);
    release.send(()).unwrap();
    blocker.wait().unwrap();
    assert_eq!(storage_kind(panicking.wait()), StorageErrorKind::Fault);
    let first = first.wait().unwrap().done().unwrap().outcome;
    let after = after.wait().unwrap().done().unwrap().outcome;
    // Committed for real: another connection sees both, and none of the panicking write.
    let mut reader = database.connection();
    let stray: i64 =
        occupancy::table.filter(occupancy::start_at.eq(1)).count().get_result(&mut reader).unwrap();
    assert_eq!(stray, 0);
    assert_eq!(database.get(first.id()).unwrap(), Some(first));
    assert_eq!(database.get(after.id()).unwrap(), Some(after));
}

#[test]
fn a_failed_commit_answers_every_write_that_the_outcome_is_unknown() {
    let database = TestDatabase::new();
    let (release, blocker) = hold_the_writer(&database);
    let admission = monday_nine().1;
    let first = booking_at("09:00:00");
    let first_id = first.id;
    let first = database.book(first, admission, None);
    // Breaks a foreign key that is checked only at COMMIT, which then fails for everyone.
    let breaking: Pending<(), ()> = database.store().write(|connection| {
        connection.batch_execute(
            "PRAGMA defer_foreign_keys = ON;
             INSERT INTO hold_slots VALUES ('00000000000000000000000000000000', 'r', 1, 2);",
        )?;
        Ok(())
    });
    let refused = database.book(booking_at("09:00:00"), admission, None);
    release.send(()).unwrap();
    assert_eq!(storage_kind(blocker.wait()), StorageErrorKind::OutcomeUnknown);
    assert_eq!(storage_kind(first.wait()), StorageErrorKind::OutcomeUnknown);
    assert_eq!(storage_kind(breaking.wait()), StorageErrorKind::OutcomeUnknown);
    assert_eq!(
        storage_kind(refused.wait()),
        StorageErrorKind::Unavailable,
        "refused on a booking that never committed: nothing it did is kept, and it says so"
    );
    assert_eq!(database.get(first_id).unwrap(), None);
    // The writer recovers on a fresh connection.
    database.book(booking_at("11:00:00"), admission, None).wait().unwrap();
    assert_eq!(booked_on_monday(&database), 1);
}

#[test]
fn a_full_queue_answers_at_once() {
    let database = TestDatabase::new();
    let (release, blocker) = hold_the_writer(&database);
    let queued: Vec<Pending<(), ()>> =
        (0..QUEUE).map(|_| database.store().write(|_| Ok::<_, TxError<()>>(()))).collect();
    let overflow: Pending<(), ()> = database.store().write(|_| Ok(()));
    assert_eq!(storage_kind(overflow.wait()), StorageErrorKind::Unavailable);
    release.send(()).unwrap();
    blocker.wait().unwrap();
    for pending in queued {
        pending.wait().unwrap();
    }
}

#[test]
fn keyed_writes_queued_together_do_the_work_once() {
    let database = TestDatabase::new();
    let (release, blocker) = hold_the_writer(&database);
    let (booking, admission) = monday_nine();
    let key = IdempotencyKey::parse("together").unwrap();
    let retries: Vec<_> = (0..4)
        .map(|_| {
            let idempotency = Idempotency {
                key: key.clone(),
                fingerprint: "POST /schedule".to_owned(),
                now: admission.now(),
                lifetime: chrono::Duration::hours(24),
            };
            let booking = Booking { id: AppointmentId::random(), ..booking.clone() };
            database.book(booking, admission, Some(idempotency))
        })
        .collect();
    release.send(()).unwrap();
    blocker.wait().unwrap();
    let outcomes: Vec<_> = retries.into_iter().map(|p| p.wait().unwrap()).collect();
    let done: Vec<_> = outcomes.iter().filter_map(|o| o.clone().done()).collect();
    assert_eq!(done.len(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| matches!(o, Outcome::Replayed(a) if *a == done[0].outcome)
        || o.clone().done().is_some()));
}

/// The writer checkpoints as it goes: however many writes it commits, the WAL stops growing.
#[test]
fn the_wal_stays_small_however_much_is_written() {
    let database = TestDatabase::with(StoreOptions { durable: false, ..StoreOptions::default() });
    let admission = monday_nine().1;
    let schedule = Schedule::default();
    let wal = database.directory.path().join("test.db-wal");
    let mut largest = 0;
    for n in 0..(4 * crate::sqlite::writer::WRITES_PER_CHECKPOINT as u32) {
        let date =
            chrono::NaiveDate::from_ymd_opt(2030, 1, 7).unwrap() + chrono::Days::new(n.into());
        let placement = schedule
            .place(date, "09:00:00".parse().unwrap(), &schedule.resources()[0], None)
            .unwrap();
        let booking =
            Booking { id: AppointmentId::random(), candidates: vec![placement], ..monday_nine().0 };
        database.book(booking, admission, None).wait().unwrap();
        largest = largest.max(std::fs::metadata(&wal).unwrap().len());
    }
    // Four checkpoints' worth of writes; a WAL that grew with every write would hold them all.
    // Under load the checkpointer may lag a checkpoint or two behind, never all four.
    let pages_per_checkpoint = 5 * crate::sqlite::writer::WRITES_PER_CHECKPOINT as u64;
    assert!(largest < 3 * pages_per_checkpoint * 4096, "the WAL reached {largest} bytes");
}
