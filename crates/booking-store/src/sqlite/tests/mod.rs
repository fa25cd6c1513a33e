//! The SQLite repository: the contract suite, the schema and its migrations, the database's own
//! guards, several stores on one file, backups; `writer` tests the writer's batches.

mod writer;

use std::ops::Deref;

use booking_core::{
    admission::Admission,
    appointment::{AppointmentId, Conclusion},
    client::ClientName,
    history::Actor,
    idempotency::{Idempotency, IdempotencyKey, Outcome},
    notification::Notifications,
    repository::{AppointmentRepository, Booking, Concluding},
    schedule::Schedule,
};
use chrono::DateTime;
use diesel::{debug_query, sqlite::Sqlite};
use tempfile::TempDir;

use super::*;
use crate::sql::schema::{self, *};

/// A repository on its own database file, removed with the directory when dropped.
struct TestDatabase {
    repository: SqliteRepository,
    directory: TempDir,
}

impl TestDatabase {
    fn new() -> Self {
        Self::with(StoreOptions::default())
    }

    fn with(options: StoreOptions) -> Self {
        let directory = tempfile::tempdir().unwrap();
        let repository =
            SqliteRepository::open(&directory.path().join("test.db"), &options).unwrap();
        Self { repository, directory }
    }

    fn connection(&self) -> SqliteConnection {
        SqliteConnection::establish(self.directory.path().join("test.db").to_str().unwrap())
            .unwrap()
    }
}

impl Deref for TestDatabase {
    type Target = SqliteRepository;

    fn deref(&self) -> &SqliteRepository {
        &self.repository
    }
}

booking_core::repository_contract_tests!(TestDatabase::new());
booking_core::repository_property_tests!(cases = 48, {
    let TestDatabase { repository, directory } = TestDatabase::new();
    (std::sync::Arc::new(repository), Box::new(directory))
});

#[derive(QueryableByName, Debug, PartialEq)]
struct Pragma {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

fn columns_in_database(connection: &mut SqliteConnection, table: &str) -> Vec<String> {
    diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"))
        .load::<Pragma>(connection)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect()
}

/// The column names schema.rs declares, read from the SQL Diesel writes for `SELECT *`.
fn columns_in_schema<T: diesel::query_builder::QueryFragment<Sqlite>>(query: T) -> Vec<String> {
    let sql = debug_query::<Sqlite, _>(&query).to_string();
    let list = sql.trim_start_matches("SELECT ").split(" FROM").next().unwrap().to_owned();
    list.split(", ")
        .map(|column| column.rsplit('.').next().unwrap().trim_matches('`').to_owned())
        .collect()
}

#[test]
fn schema_rs_matches_the_migrations() {
    use schema::{
        appointment_history, calendar, calendar_overrides, calendar_performers, calendar_resources,
        calendar_services, closures, hold_slots, holds, idempotency_records, occupancy, readiness,
        webhook_deliveries, webhook_endpoints,
    };
    let database = TestDatabase::new();
    let mut connection = database.connection();
    let mut check = |table: &str, declared: Vec<String>| {
        assert_eq!(columns_in_database(&mut connection, table), declared, "{table}");
    };
    check("appointments", columns_in_schema(appointments::table.select(appointments::all_columns)));
    check("occupancy", columns_in_schema(occupancy::table.select(occupancy::all_columns)));
    check("holds", columns_in_schema(holds::table.select(holds::all_columns)));
    check("hold_slots", columns_in_schema(hold_slots::table.select(hold_slots::all_columns)));
    check("closures", columns_in_schema(closures::table.select(closures::all_columns)));
    check(
        "idempotency_records",
        columns_in_schema(idempotency_records::table.select(idempotency_records::all_columns)),
    );
    check("readiness", columns_in_schema(readiness::table.select(readiness::all_columns)));
    check(
        "appointment_history",
        columns_in_schema(appointment_history::table.select(appointment_history::all_columns)),
    );
    check(
        "webhook_endpoints",
        columns_in_schema(webhook_endpoints::table.select(webhook_endpoints::all_columns)),
    );
    check(
        "webhook_deliveries",
        columns_in_schema(webhook_deliveries::table.select(webhook_deliveries::all_columns)),
    );
    check("calendar", columns_in_schema(calendar::table.select(calendar::all_columns)));
    check(
        "calendar_resources",
        columns_in_schema(calendar_resources::table.select(calendar_resources::all_columns)),
    );
    check(
        "calendar_services",
        columns_in_schema(calendar_services::table.select(calendar_services::all_columns)),
    );
    check(
        "calendar_performers",
        columns_in_schema(calendar_performers::table.select(calendar_performers::all_columns)),
    );
    check(
        "calendar_overrides",
        columns_in_schema(calendar_overrides::table.select(calendar_overrides::all_columns)),
    );
}

#[test]
fn migrations_revert_cleanly_and_reapply() {
    let database = TestDatabase::new();
    let mut connection = database.connection();
    connection::revert_all(&mut connection).unwrap();
    for table in [
        "appointments",
        "appointment_slots",
        "occupancy",
        "holds",
        "hold_slots",
        "closures",
        "slot_usage",
        "idempotency_keys",
        "idempotency_records",
        "readiness",
        "appointment_history",
        "webhook_endpoints",
        "webhook_deliveries",
        "calendar",
        "calendar_resources",
        "calendar_services",
        "calendar_performers",
        "calendar_overrides",
    ] {
        assert!(columns_in_database(&mut connection, table).is_empty(), "{table} left behind");
    }
    connection::reapply(&mut connection).unwrap();
    assert_eq!(columns_in_database(&mut connection, "appointments").len(), 13);
}

#[test]
fn an_earlier_database_upgrades_with_its_bookings() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("old.db");
    let mut connection = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    connection::apply_first_migrations(&mut connection, 1).unwrap();
    diesel::sql_query(
        "INSERT INTO appointments VALUES ('67e55044-10b1-426f-9247-bb680e5fe0c8', 'Ada', NULL, 1893488400, 1893490200, 'scheduled', 1, 1);
         ",
    )
    .execute(&mut connection)
    .unwrap();
    diesel::sql_query("INSERT INTO slot_usage VALUES (1893488400, 1)")
        .execute(&mut connection)
        .unwrap();
    drop(connection);
    let repository = SqliteRepository::open(&path, &StoreOptions::default()).unwrap();
    let id = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().unwrap();
    let appointment = repository.get(id).unwrap().unwrap();
    assert_eq!(appointment.resource().as_str(), "default");
    assert_eq!(appointment.occupied(), [DateTime::from_timestamp(1893488400, 0).unwrap()]);
    let start = DateTime::from_timestamp(1893488400, 0).unwrap();
    let usage =
        repository.usage(None, start, start, DateTime::from_timestamp(0, 0).unwrap()).unwrap();
    assert_eq!(usage.values().map(|u| u.booked).sum::<u32>(), 1);
}

/// A key stored by the release that kept rendered answers still replays, as the appointment it
/// described.
#[test]
fn an_earlier_databases_keys_replay_the_appointment_they_answered_with() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("keys.db");
    let mut connection = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    connection::apply_first_migrations(&mut connection, 4).unwrap();
    let id = "67e55044-10b1-426f-9247-bb680e5fe0c8";
    diesel::sql_query(format!(
        "INSERT INTO appointments VALUES ('{id}', 'Ada', NULL, 1893488400, 1893490200, 'canceled', 1893484800, 1893485000, 'default', NULL);
         INSERT INTO appointment_slots VALUES ('{id}', 1893488400);"
    ))
    .execute(&mut connection)
    .unwrap();
    let body = format!(
        r#"{{"message":"Appointment scheduled successfully.","appointment_id":"{id}","appointment":{{"id":"{id}","client_name":"Ada","resource":"default","service":null,"date":"2030-01-01","time":"09:00","start":"2030-01-01T10:00:00+01:00","end":"2030-01-01T10:30:00+01:00","status":"scheduled","notes":null,"created_at":"2030-01-01T08:00:00Z","updated_at":"2030-01-01T08:00:00Z"}}}}"#
    );
    diesel::sql_query("INSERT INTO idempotency_keys VALUES ('old-key', 'POST /schedule\n{}', 201, ?, ?, 1893484800)")
        .bind::<diesel::sql_types::Text, _>(body)
        .bind::<diesel::sql_types::Text, _>(format!("/appointment/{id}"))
        .execute(&mut connection)
        .unwrap();
    drop(connection);
    let repository = SqliteRepository::open(&path, &StoreOptions::default()).unwrap();
    let (booking, admission) = monday_nine();
    let retry = Idempotency {
        key: IdempotencyKey::parse("old-key").unwrap(),
        fingerprint: "POST /schedule\n{}".to_owned(),
        now: DateTime::from_timestamp(1893484900, 0).unwrap(),
        lifetime: chrono::Duration::hours(24),
    };
    let Outcome::Replayed(appointment) =
        repository.book(booking, admission, Some(retry)).wait().unwrap()
    else {
        panic!("the old key was not replayed");
    };
    assert_eq!(appointment.id().to_string(), id);
    assert_eq!(appointment.status().as_str(), "scheduled", "as answered, though canceled since");
    assert_eq!(appointment.slot().start().timestamp(), 1893488400);
    assert_eq!(appointment.created_at().timestamp(), 1893484800);
    assert_eq!(appointment.occupied(), [DateTime::from_timestamp(1893488400, 0).unwrap()]);
}

#[test]
fn connections_use_wal_full_sync_and_a_busy_timeout() {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let database = TestDatabase::new();
    let mut connection = database.repository.store().connection().unwrap();
    let mut read = |pragma: &str| {
        diesel::sql_query(format!("SELECT CAST({pragma} AS TEXT) AS value FROM pragma_{pragma}"))
            .get_result::<Setting>(&mut *connection)
            .unwrap()
            .value
    };
    assert_eq!(read("journal_mode"), "wal");
    assert_eq!(read("synchronous"), "2", "2 is FULL");
    assert_eq!(read("foreign_keys"), "1");
}

/// `.cargo/config.toml` compiles SQLite so that connections share no page cache and count no
/// allocations (both behind global mutexes that readers and the writer would take turns on).
#[test]
fn sqlite_is_compiled_without_process_wide_mutexes() {
    #[derive(QueryableByName)]
    struct Used {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        used: i32,
    }
    let database = TestDatabase::new();
    let mut connection = database.connection();
    let mut used = |option: &str| {
        diesel::sql_query("SELECT sqlite_compileoption_used(?) AS used")
            .bind::<diesel::sql_types::Text, _>(option)
            .get_result::<Used>(&mut connection)
            .unwrap()
            .used
    };
    assert_eq!(used("ENABLE_MEMORY_MANAGEMENT"), 0);
    assert_eq!(used("DEFAULT_MEMSTATUS=0"), 1);
}

/// Canceled, completed and no-show appointments are final, whatever writes to the table.
#[test]
fn the_database_refuses_to_change_a_final_appointment() {
    let database = TestDatabase::new();
    let mut connection = database.connection();
    for (n, status) in ["canceled", "completed", "no_show"].into_iter().enumerate() {
        diesel::sql_query(format!(
            "INSERT INTO appointments VALUES ('67e55044-10b1-426f-9247-bb680e5fe0c{n}', 'Ada', NULL, 100, 200, '{status}', 1, 1, 'default', NULL, '100', NULL, NULL)"
        ))
        .execute(&mut connection)
        .unwrap();
        let error = diesel::sql_query(format!(
            "UPDATE appointments SET status = 'scheduled' WHERE status = '{status}'"
        ))
        .execute(&mut connection)
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("appointment cannot change"), "{status}: {message}");
    }
    let error = diesel::sql_query("UPDATE appointments SET status = 'done'")
        .execute(&mut connection)
        .unwrap_err();
    assert!(error.to_string().contains("cannot change"), "{error}");
    // Only a move records where it left from, and a service only with its resource.
    for (kind, resource, service, allowed) in [
        ("rescheduled", "'alice'", "'cut'", true),
        ("canceled", "'alice'", "NULL", false),
        ("rescheduled", "NULL", "'cut'", false),
    ] {
        let from = if kind == "rescheduled" { "150, 250" } else { "NULL, NULL" };
        let inserted = diesel::sql_query(format!(
            "INSERT INTO appointment_history (appointment_id, made_at, kind, start_at, end_at, from_start_at, from_end_at, actor, from_resource, from_service) VALUES ('67e55044-10b1-426f-9247-bb680e5fe0c0', 1, '{kind}', 100, 200, {from}, 'client', {resource}, {service})"
        ))
        .execute(&mut connection);
        assert_eq!(inserted.is_ok(), allowed, "{kind} {resource} {service}: {inserted:?}");
    }
}

/// Migrations run with foreign keys off (to rebuild tables), so they are all checked before
/// the migrations commit: a row left pointing nowhere stops the upgrade, which applies nothing.
#[test]
fn an_upgrade_that_would_leave_a_broken_reference_applies_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("dangling.db");
    let mut connection = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    connection::apply_first_migrations(&mut connection, 12).unwrap();
    connection
        .batch_execute(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO appointment_history (appointment_id, made_at, kind, start_at, end_at, actor)
             VALUES ('67e55044-10b1-426f-9247-bb680e5fe0c8', 1, 'scheduled', 1, 2, 'client');",
        )
        .unwrap();
    drop(connection);
    let error = SqliteRepository::open(&path, &StoreOptions::default()).unwrap_err();
    let message = anyhow_like(&error);
    assert!(
        message.contains(
            "1 rows referring to rows that do not exist (the first in appointment_history)"
        ),
        "{message}"
    );
    let mut connection = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    let triggers = diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .load::<Pragma>(&mut connection)
        .unwrap();
    assert!(
        triggers.iter().any(|t| t.name == "canceled_appointments_are_final"),
        "nothing applied: {triggers:?}"
    );
}

/// A database of the release before conclusions keeps its appointments, their histories and
/// what those queued when its two tables are rebuilt; entries go on being numbered after the
/// last one ever written, and the upgraded rows conclude.
#[test]
fn an_earlier_database_keeps_its_history_and_outbox_through_the_rebuild() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("before-conclusions.db");
    let mut connection = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    connection.batch_execute("PRAGMA foreign_keys = ON;").unwrap();
    connection::apply_first_migrations(&mut connection, 12).unwrap();
    let id = "67e55044-10b1-426f-9247-bb680e5fe0c8";
    connection
        .batch_execute(&format!(
            "INSERT INTO appointments VALUES ('{id}', 'Ada', NULL, 1893488400, 1893490200, 'scheduled', 1, 1, 'default', NULL, '1893488400', 'ada@example.com', NULL);
             INSERT INTO webhook_endpoints (id, url, events, secret, created_at) VALUES ('e', 'https://crm.example/hooks', NULL, 's', 1);
             INSERT INTO notification_plan VALUES (1, 1);
             INSERT INTO appointment_history (appointment_id, made_at, kind, start_at, end_at, actor) VALUES ('{id}', 1, 'scheduled', 1893488400, 1893490200, 'client');
             INSERT INTO appointment_history (appointment_id, made_at, kind, start_at, end_at, actor) VALUES ('{id}', 2, 'scheduled', 1893488400, 1893490200, 'client');
             DELETE FROM appointment_history WHERE id = 2;"
        ))
        .unwrap();
    drop(connection);
    let repository = SqliteRepository::open(&path, &StoreOptions::default()).unwrap();
    let id = id.parse().unwrap();
    assert_eq!(repository.history(id).unwrap().map(|h| h.len()), Some(1));
    assert_eq!(repository.notifications(None, 10).unwrap().len(), 1, "the confirmation");
    let concluding = Concluding {
        id,
        conclusion: Conclusion::NoShow,
        now: DateTime::from_timestamp(1893488400 + 600, 0).unwrap(),
        by: Actor::Operator,
        reason: None,
    };
    repository.conclude(concluding).wait().unwrap();
    let mut connection = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    #[derive(QueryableByName)]
    struct Entry {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        deliveries: i64,
    }
    let entries: Vec<(i64, i64)> = diesel::sql_query(
        "SELECT h.id, (SELECT count(*) FROM webhook_deliveries d WHERE d.entry_id = h.id) AS deliveries FROM appointment_history h ORDER BY h.id",
    )
    .load::<Entry>(&mut connection)
    .unwrap()
    .into_iter()
    .map(|e| (e.id, e.deliveries))
    .collect();
    assert_eq!(entries, [(1, 1), (3, 1)], "entry 2 is never numbered again");
}

#[test]
fn the_database_refuses_an_appointment_without_slots() {
    let database = TestDatabase::new();
    let mut connection = database.connection();
    let error = diesel::sql_query(
        "INSERT INTO appointments VALUES ('67e55044-10b1-426f-9247-bb680e5fe0c8', 'Ada', NULL, 100, 200, 'scheduled', 1, 1, 'default', NULL, '', NULL, NULL)",
    )
    .execute(&mut connection)
    .unwrap_err();
    assert!(error.to_string().contains("at least one slot"), "{error}");
}

#[test]
fn the_database_refuses_a_negative_count() {
    let database = TestDatabase::new();
    let mut connection = database.connection();
    diesel::sql_query("INSERT INTO occupancy VALUES ('alice', 100, 0)")
        .execute(&mut connection)
        .unwrap();
    let alice = "alice".parse().unwrap();
    let error = writes::places::give_back(
        &mut connection,
        &alice,
        &[DateTime::from_timestamp(100, 0).unwrap()],
    )
    .unwrap_err();
    assert!(error.to_string().contains("CHECK constraint failed"), "{error}");
}

/// A booking of Monday 2030-01-07 09:00 on the default schedule, and the rule to judge it by on
/// 2030-01-01.
fn monday_nine() -> (Booking, Admission) {
    let schedule = Schedule::default();
    let placement = schedule
        .place(
            "2030-01-07".parse().unwrap(),
            "09:00:00".parse().unwrap(),
            &schedule.resources()[0],
            None,
        )
        .unwrap();
    let booking = Booking {
        id: AppointmentId::random(),
        client_name: ClientName::parse("Ada").unwrap(),
        notes: None,
        contact: Default::default(),
        candidates: vec![placement],
        hold: None,
        by: booking_core::history::Actor::Client,
    };
    (booking, schedule.admission("2030-01-01T00:00:00Z".parse().unwrap(), None))
}

#[test]
fn two_stores_on_one_file_share_the_capacity() {
    let database = TestDatabase::new();
    let second = SqliteRepository::open(
        &database.directory.path().join("test.db"),
        &StoreOptions::default(),
    )
    .unwrap();
    let (booking, admission) = monday_nine();
    let booked = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let store = if i % 2 == 0 { &database.repository } else { &second };
                let booking = Booking { id: AppointmentId::random(), ..booking.clone() };
                scope.spawn(move || store.book(booking, admission, None).wait().is_ok())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).filter(|ok| *ok).count()
    });
    assert_eq!(booked, 1);
    let start = booking.candidates[0].slot.start();
    let usage = second.usage(None, start, start, admission.now()).unwrap();
    assert_eq!(usage.values().map(|u| u.booked).sum::<u32>(), 1);
}

#[test]
fn an_unopenable_path_is_a_clear_error() {
    let directory = tempfile::tempdir().unwrap();
    let error = SqliteRepository::open(
        &directory.path().join("missing/dir/x.db"),
        &StoreOptions::default(),
    )
    .unwrap_err();
    assert!(error.to_string().starts_with("cannot open the SQLite database"), "{error}");
}

#[test]
fn a_backup_is_a_consistent_copy_that_opens_as_a_store() {
    let database = TestDatabase::new();
    let (booking, admission) = monday_nine();
    let appointment =
        database.book(booking, admission, None).wait().unwrap().done().unwrap().outcome;
    let target = database.directory.path().join("backup.db");
    let live = database.directory.path().join("test.db");
    let options = StoreOptions::default();
    SqliteRepository::backup(&live, &target, &options).unwrap();
    let copy = SqliteRepository::open(&target, &options).unwrap();
    copy.check_integrity().unwrap();
    assert_eq!(copy.get(appointment.id()).unwrap(), Some(appointment));
    assert!(
        matches!(SqliteRepository::backup(&live, &target, &options), Err(BackupError::Exists(_))),
        "never overwrites"
    );
}

/// Without its row, the readiness write would write nothing (and pass on a full disk): it fails.
#[test]
fn the_readiness_probe_fails_without_its_row() {
    let database = TestDatabase::new();
    database.check_writable(chrono::Utc::now()).wait().unwrap();
    database.connection().batch_execute("DELETE FROM readiness").unwrap();
    let error = database.check_writable(chrono::Utc::now()).wait().unwrap_err();
    assert!(anyhow_like(&error).contains("readiness"), "{error}");
}

/// A mistyped path is an error: nothing is created, migrated or copied.
#[test]
fn a_backup_of_a_missing_database_creates_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let missing = directory.path().join("typo.db");
    let target = directory.path().join("copy.db");
    let error = SqliteRepository::backup(&missing, &target, &StoreOptions::default()).unwrap_err();
    assert!(matches!(error, BackupError::Missing(_)), "{error}");
    assert!(!missing.exists() && !target.exists());
}

/// A backup copies the schema as it is: it applies no migration to the live database.
#[test]
fn a_backup_never_migrates() {
    let directory = tempfile::tempdir().unwrap();
    let live = directory.path().join("old.db");
    let mut connection = SqliteConnection::establish(live.to_str().unwrap()).unwrap();
    connection::apply_first_migrations(&mut connection, 1).unwrap();
    let target = directory.path().join("copy.db");
    SqliteRepository::backup(&live, &target, &StoreOptions::default()).unwrap();
    assert!(columns_in_database(&mut connection, "readiness").is_empty(), "live was migrated");
    let mut copy = SqliteConnection::establish(target.to_str().unwrap()).unwrap();
    assert_eq!(columns_in_database(&mut copy, "appointments").len(), 8, "the first schema");
}

/// Without migrating, a database whose schema is behind is refused with what to do; once
/// `migrate` has run, it opens.
#[test]
fn a_store_that_may_not_migrate_requires_an_up_to_date_schema() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("behind.db");
    let mut connection = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    connection::apply_first_migrations(&mut connection, 2).unwrap();
    let require =
        StoreOptions { migrations: crate::Migrations::Require, ..StoreOptions::default() };
    let error = SqliteRepository::open(&path, &require).unwrap_err();
    let message = anyhow_like(&error);
    assert!(message.contains("booking-http migrate"), "{message}");
    assert!(columns_in_database(&mut connection, "readiness").is_empty(), "nothing applied");
    let applied = SqliteRepository::migrate(&path, &StoreOptions::default()).unwrap();
    assert!(applied >= 5, "{applied}");
    assert_eq!(SqliteRepository::migrate(&path, &StoreOptions::default()).unwrap(), 0);
    SqliteRepository::open(&path, &require).unwrap();
}

/// An error and its sources, as the binary prints them.
fn anyhow_like(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[test]
fn writers_sharing_a_commit_do_not_fail_each_other() {
    // Half the threads fight over one slot, half book slots of their own, all at once: the
    // refusals roll back only their own savepoints.
    let database = TestDatabase::new();
    let schedule = Schedule::default();
    let admission = schedule.admission("2030-01-01T00:00:00Z".parse().unwrap(), None);
    let booking_at = |time: &str| {
        let placement = schedule
            .place(
                "2030-01-07".parse().unwrap(),
                time.parse().unwrap(),
                &schedule.resources()[0],
                None,
            )
            .unwrap();
        Booking {
            id: AppointmentId::random(),
            client_name: ClientName::parse("Ada").unwrap(),
            notes: None,
            contact: Default::default(),
            candidates: vec![placement],
            hold: None,
            by: booking_core::history::Actor::Client,
        }
    };
    let times = [
        "09:00:00", "09:30:00", "10:00:00", "10:30:00", "11:00:00", "11:30:00", "12:00:00",
        "12:30:00",
    ];
    let outcomes: Vec<(bool, bool)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let contested = i % 2 == 0;
                let booking = booking_at(if contested { "16:00:00" } else { times[i / 2] });
                let store = &database.repository;
                let admission = &admission;
                scope.spawn(move || {
                    (contested, store.book(booking, *admission, None).wait().is_ok())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(outcomes.iter().filter(|(contested, _)| !contested).all(|(_, ok)| *ok), "{outcomes:?}");
    assert_eq!(
        outcomes.iter().filter(|(contested, ok)| *contested && *ok).count(),
        1,
        "{outcomes:?}"
    );
    let day = database
        .usage(
            None,
            "2030-01-07T00:00:00Z".parse().unwrap(),
            "2030-01-08T00:00:00Z".parse().unwrap(),
            admission.now(),
        )
        .unwrap();
    assert_eq!(day.values().map(|u| u.booked).sum::<u32>(), 9);
}

/// The history entry and the webhook deliveries it queues are part of the write: when either
/// cannot be written, neither is the change (a booking, a cancel).
#[test]
fn a_write_whose_history_or_outbox_cannot_be_written_changes_nothing() {
    use booking_core::notification::{NotificationKind, Notifications};
    use diesel::connection::SimpleConnection;
    for table in ["appointment_history", "webhook_deliveries", "notifications"] {
        let database = TestDatabase::new();
        booking_core::contract::subscribe_everything(&*database);
        let plan = booking_core::notification::Plan::default();
        database.plan_notifications(Some(plan), chrono::Utc::now()).wait().unwrap();
        let (mut booking, admission) = monday_nine();
        booking.contact.email = booking_core::contact::Email::parse("ada@example.com").unwrap();
        let booked =
            database.book(booking.clone(), admission, None).wait().unwrap().done().unwrap().outcome;
        database
            .connection()
            .batch_execute(&format!(
                "CREATE TRIGGER refuse BEFORE INSERT ON {table} \
                 BEGIN SELECT RAISE(ABORT, 'not today'); END"
            ))
            .unwrap();
        let schedule = Schedule::default();
        let ten = schedule
            .place(
                "2030-01-07".parse().unwrap(),
                "10:00:00".parse().unwrap(),
                &schedule.resources()[0],
                None,
            )
            .unwrap();
        let refused =
            Booking { id: AppointmentId::random(), candidates: vec![ten], ..booking.clone() };
        let failed = database.book(refused.clone(), admission, None).wait();
        assert!(
            matches!(failed, Err(booking_core::storage::WriteError::Storage(_))),
            "{table}: {failed:?}"
        );
        assert_eq!(database.get(refused.id).unwrap(), None, "{table}");
        let cancel = booking_core::repository::Cancellation {
            id: booked.id(),
            now: admission.now(),
            by: booking_core::history::Actor::Client,
            notice: chrono::Duration::zero(),
            reason: None,
        };
        let failed = database.cancel(cancel, None).wait();
        assert!(
            matches!(failed, Err(booking_core::storage::WriteError::Storage(_))),
            "{table}: {failed:?}"
        );
        assert_eq!(database.get(booked.id()).unwrap(), Some(booked.clone()), "{table}");
        // Only the booking that committed queued its message.
        let queued = database.notifications(None, 10).unwrap();
        let about: Vec<_> = queued.iter().map(|n| (n.appointment, n.kind)).collect();
        assert_eq!(about, [(booked.id(), NotificationKind::Confirmation)], "{table}");
    }
}
