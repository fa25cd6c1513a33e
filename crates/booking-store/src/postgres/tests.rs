use std::ops::Deref;

use booking_core::storage::StorageErrorKind;

use super::*;
use diesel::result::Error as DieselError;

use crate::{sql::storage_error, test_support::TestSchema};

/// A repository on a schema of its own; the schema goes when this is dropped.
struct TestDatabase {
    // Dropped first: its connections close before the schema is dropped.
    repository: PgRepository,
    _schema: TestSchema,
}

impl TestDatabase {
    fn new() -> Self {
        let schema = TestSchema::create();
        let repository = PgRepository::open(schema.url(), &StoreOptions::default()).unwrap();
        Self { repository, _schema: schema }
    }

    /// One whose connections have PostgreSQL word its errors in German.
    fn speaking_german() -> Self {
        let schema = TestSchema::create();
        let repository = PgRepository::open(&schema.url_speaking(GERMAN), &StoreOptions::default())
            .expect(NEEDS_GERMAN);
        Self { repository, _schema: schema }
    }
}

/// A language PostgreSQL's messages are translated to.
const GERMAN: &str = "de_DE.UTF-8";
const NEEDS_GERMAN: &str = "PostgreSQL cannot speak German: install the locale de_DE.UTF-8 where \
     it runs (Debian: locale-gen) and restart it, as .ci/run does";

impl Deref for TestDatabase {
    type Target = PgRepository;

    fn deref(&self) -> &PgRepository {
        &self.repository
    }
}

booking_core::repository_contract_tests!(
    #[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
    TestDatabase::new()
);
booking_core::repository_property_tests!(
    #[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
    cases = 24,
    {
        let TestDatabase { repository, _schema } = TestDatabase::new();
        // The tuple drops the repository (its connections) before the schema.
        (std::sync::Arc::new(repository), Box::new(_schema))
    }
);

/// Booking a slot of 2030-01-07 (a Monday) on a schedule with `capacity` places per slot,
/// judged on 2030-01-01.
struct Monday {
    schedule: booking_core::schedule::Schedule,
    admission: booking_core::admission::Admission,
}

impl Monday {
    fn with_capacity(capacity: u32) -> Self {
        use booking_core::{schedule::Schedule, units::Capacity};
        let default = Schedule::default();
        let schedule = Schedule::new(
            default.time_zone(),
            default.resources()[0].hours.clone(),
            default.slot_length(),
            Capacity::new(capacity).unwrap(),
        );
        let admission = schedule.admission("2030-01-01T00:00:00Z".parse().unwrap(), None);
        Self { schedule, admission }
    }

    fn at(&self, time: &str) -> booking_core::placement::Placement {
        self.schedule
            .place(
                "2030-01-07".parse().unwrap(),
                time.parse().unwrap(),
                &self.schedule.resources()[0],
                None,
            )
            .unwrap()
    }

    /// A five-minute hold of `time`, for the holder of `quota`.
    fn hold(
        &self,
        time: &str,
        quota: Option<booking_core::hold::HoldQuota>,
    ) -> booking_core::repository::HoldRequest {
        booking_core::repository::HoldRequest {
            token: booking_core::hold::HoldToken::random(),
            candidates: vec![self.at(time)],
            expires_at: "2030-01-01T00:05:00Z".parse().unwrap(),
            quota,
        }
    }

    fn booking(&self, time: &str) -> booking_core::repository::Booking {
        booking_core::repository::Booking {
            id: booking_core::appointment::AppointmentId::random(),
            client_name: booking_core::client::ClientName::parse("Ada").unwrap(),
            notes: None,
            contact: booking_core::contact::Contact {
                email: booking_core::contact::Email::parse("ada@example.com").unwrap(),
                phone: None,
            },
            candidates: vec![self.at(time)],
            hold: None,
            by: booking_core::history::Actor::Client,
        }
    }
}

use booking_core::repository::AppointmentRepository;

/// The client's cancellation of `id` at `now`, without a reason.
fn cancellation(
    id: booking_core::appointment::AppointmentId,
    now: chrono::DateTime<chrono::Utc>,
) -> booking_core::repository::Cancellation {
    booking_core::repository::Cancellation {
        id,
        now,
        by: booking_core::history::Actor::Client,
        notice: chrono::Duration::zero(),
        reason: None,
    }
}

#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn schema_rs_matches_the_migrations() {
    use crate::sql::schema::*;
    use diesel::{debug_query, pg::Pg, query_builder::QueryFragment, sql_types::Text};

    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        column_name: String,
    }
    fn declared<T: QueryFragment<Pg>>(query: T) -> Vec<String> {
        let sql = debug_query::<Pg, _>(&query).to_string();
        let list = sql.trim_start_matches("SELECT ").split(" FROM").next().unwrap().to_owned();
        list.split(", ")
            .map(|c| c.rsplit('.').next().unwrap().trim_matches('"').to_owned())
            .collect()
    }
    let database = TestDatabase::new();
    let mut connection = database.store().connection().unwrap();
    let mut check = |table: &str, declared: Vec<String>| {
        let in_database: Vec<String> = diesel::sql_query(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind::<Text, _>(table)
        .load::<Column>(&mut **connection)
        .unwrap()
        .into_iter()
        .map(|c| c.column_name)
        .collect();
        assert_eq!(in_database, declared, "{table}");
    };
    check("appointments", declared(appointments::table.select(appointments::all_columns)));
    check("occupancy", declared(occupancy::table.select(occupancy::all_columns)));
    check("holds", declared(holds::table.select(holds::all_columns)));
    check("hold_slots", declared(hold_slots::table.select(hold_slots::all_columns)));
    check("closures", declared(closures::table.select(closures::all_columns)));
    check(
        "idempotency_records",
        declared(idempotency_records::table.select(idempotency_records::all_columns)),
    );
    check("readiness", declared(readiness::table.select(readiness::all_columns)));
    check(
        "appointment_history",
        declared(appointment_history::table.select(appointment_history::all_columns)),
    );
    check(
        "webhook_endpoints",
        declared(webhook_endpoints::table.select(webhook_endpoints::all_columns)),
    );
    check(
        "webhook_deliveries",
        declared(webhook_deliveries::table.select(webhook_deliveries::all_columns)),
    );
    check("calendar", declared(calendar::table.select(calendar::all_columns)));
    check(
        "calendar_resources",
        declared(calendar_resources::table.select(calendar_resources::all_columns)),
    );
    check(
        "calendar_services",
        declared(calendar_services::table.select(calendar_services::all_columns)),
    );
    check(
        "calendar_performers",
        declared(calendar_performers::table.select(calendar_performers::all_columns)),
    );
    check(
        "calendar_overrides",
        declared(calendar_overrides::table.select(calendar_overrides::all_columns)),
    );
}

/// A server whose role may not change the schema starts without migrating, once `migrate` has
/// run as a role that may, and can then book and pass its readiness write; before that, it
/// refuses to start saying what to run.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn a_role_that_may_not_change_the_schema_starts_once_migrated() {
    let schema = TestSchema::create();
    let require =
        StoreOptions { migrations: crate::Migrations::Require, ..StoreOptions::default() };
    let refused = PgRepository::open(schema.url(), &require).unwrap_err();
    let chain = std::iter::successors(Some(&refused as &dyn std::error::Error), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    assert!(chain.contains("booking-http migrate"), "{chain}");
    let applied = PgRepository::migrate(schema.url(), &StoreOptions::default()).unwrap();
    assert!(applied >= 4, "{applied}");
    assert_eq!(PgRepository::migrate(schema.url(), &StoreOptions::default()).unwrap(), 0);
    let application = schema.application_role_url();
    let repository = PgRepository::open(&application, &require).unwrap();
    repository.check_writable(chrono::Utc::now()).wait().unwrap();
    let monday = Monday::with_capacity(1);
    repository.book(monday.booking("09:00:00"), monday.admission, None).wait().unwrap();
    // The role really may not change the schema.
    let mut connection = repository.store().connection().unwrap();
    assert!(
        diesel::sql_query("CREATE TABLE intruder (id integer)").execute(&mut **connection).is_err()
    );
}

#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn servers_starting_together_migrate_once() {
    let schema = TestSchema::create();
    let opened: Vec<bool> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| PgRepository::open(schema.url(), &StoreOptions::default()).is_ok())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(opened, [true; 4]);
    let repository = PgRepository::open(schema.url(), &StoreOptions::default()).unwrap();
    let applied: i64 =
        diesel::sql_query("SELECT count(*) AS applied FROM __diesel_schema_migrations")
            .get_result::<Applied>(&mut **repository.store().connection().unwrap())
            .unwrap()
            .applied;
    let embedded =
        diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&connection::MIGRATIONS)
            .unwrap();
    assert_eq!(applied, embedded.len() as i64, "each migration applied once");
}

#[derive(QueryableByName)]
struct Applied {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    applied: i64,
}

/// A second server: another pool, another origin, on the same schema.
fn second_server(database: &TestDatabase) -> PgRepository {
    PgRepository::open(database._schema.url(), &StoreOptions::default()).unwrap()
}

/// Runs `write(i, server)` for `i` in `0..8` on eight threads released together, the even ones
/// on `first` and the odd ones on `second`; answers in the order of `i`.
fn eight_at_once<T: Send>(
    first: &PgRepository,
    second: &PgRepository,
    write: impl Fn(usize, &PgRepository) -> T + Sync,
) -> Vec<T> {
    let barrier = std::sync::Barrier::new(8);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let store = if i % 2 == 0 { first } else { second };
                let (write, barrier) = (&write, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    write(i, store)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Writers released together, half holding and half booking one slot, half on each server,
/// round after round: the place is taken once per slot, never by a hold and a booking together.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn holds_and_bookings_from_two_servers_never_share_a_place() {
    let database = TestDatabase::new();
    let second = second_server(&database);
    let monday = Monday::with_capacity(1);
    let times: Vec<String> =
        (9..17).flat_map(|hour| [format!("{hour:02}:00:00"), format!("{hour:02}:30:00")]).collect();
    for time in &times {
        let outcomes = eight_at_once(&database, &second, |i, store| {
            if i % 4 < 2 {
                store.book(monday.booking(time), monday.admission, None).wait().is_ok()
            } else {
                store.hold(monday.hold(time, None), monday.admission).wait().is_ok()
            }
        });
        let taken = outcomes.into_iter().filter(|ok| *ok).count();
        let start = monday.at(time).slot.start();
        let usage = second.usage(None, start, start, monday.admission.now()).unwrap();
        let used = usage.values().map(|u| u.booked + u.held).sum::<u32>();
        assert_eq!((taken, used), (1, 1), "{time}");
    }
}

/// One holder asking for eight slots at once, half on each server, gets exactly its quota:
/// the holder lock makes the count and the insert one step across servers.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn a_holder_never_passes_its_quota_across_two_servers() {
    use booking_core::{hold::HoldQuota, repository::HoldFailure, storage::WriteError};
    let database = TestDatabase::new();
    let second = second_server(&database);
    let monday = Monday::with_capacity(1);
    let most = std::num::NonZeroU16::new(2).unwrap();
    let outcomes = eight_at_once(&database, &second, |i, store| {
        let quota = HoldQuota { holder: "2001:db8::/64".to_owned(), most };
        let request = monday.hold(&format!("{:02}:00:00", 9 + i), Some(quota));
        store.hold(request, monday.admission).wait().map(drop)
    });
    let held = outcomes.iter().filter(|o| o.is_ok()).count();
    let capped = outcomes
        .iter()
        .filter(|o| matches!(o, Err(WriteError::Refused(HoldFailure::TooMany { .. }))))
        .count();
    assert_eq!((held, capped), (2, 6), "{outcomes:?}");
}

/// Many writers on two servers book, move and cancel across a few slots, crossing each other's
/// paths (the pattern that deadlocks without a lock order); afterwards every slot's count
/// equals the scheduled appointments in it and none passes the capacity.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn crossing_writers_keep_every_count_exact() {
    let database = TestDatabase::new();
    let second = second_server(&database);
    let monday = Monday::with_capacity(2);
    let times = ["09:00:00", "09:30:00", "10:00:00", "10:30:00"];
    std::thread::scope(|scope| {
        for thread in 0..8_u64 {
            let store: &PgRepository = if thread % 2 == 0 { &database } else { &second };
            let (monday, times) = (&monday, &times);
            scope.spawn(move || {
                let mut state = thread * 7919 + 1;
                let mut next = move |n: usize| {
                    state =
                        state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (state >> 33) as usize % n
                };
                let mut mine = Vec::new();
                for _ in 0..40 {
                    match next(3) {
                        0 => {
                            if let Ok(outcome) = store
                                .book(monday.booking(times[next(4)]), monday.admission, None)
                                .wait()
                            {
                                mine.push(outcome.done().unwrap().outcome.id());
                            }
                        }
                        1 if !mine.is_empty() => {
                            let id = mine[next(mine.len())];
                            let _refused = store
                                .reschedule(
                                    id,
                                    monday.at(times[next(4)]),
                                    monday.admission,
                                    booking_core::history::Actor::Client,
                                    None,
                                )
                                .wait();
                        }
                        _ if !mine.is_empty() => {
                            let id = mine.swap_remove(next(mine.len()));
                            let _refused =
                                store.cancel(cancellation(id, monday.admission.now()), None).wait();
                        }
                        _ => {}
                    }
                }
            });
        }
    });
    let (first, last) = (monday.at(times[0]).slot.start(), monday.at(times[3]).slot.start());
    let usage = database.usage(None, first, last, monday.admission.now()).unwrap();
    let scheduled = database
        .appointments(&booking_core::repository::AppointmentQuery {
            status: Some(booking_core::appointment::Status::Scheduled),
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    for time in times {
        let start = monday.at(time).slot.start();
        let counted = scheduled.iter().filter(|a| a.occupied().contains(&start)).count() as u32;
        let booked = usage
            .values()
            .zip(usage.keys())
            .filter(|(_, k)| k.1 == start)
            .map(|(u, _)| u.booked)
            .sum::<u32>();
        assert_eq!(booked, counted, "{time}");
        assert!(booked <= 2, "{time}: {booked}");
    }
}

#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn a_server_hears_the_other_servers_changes_but_not_its_own() {
    let database = TestDatabase::new();
    let second = second_server(&database);
    let (sender, heard) = std::sync::mpsc::channel();
    let _listening =
        database.listen(move |announcement| sender.send(announcement).is_ok()).unwrap();
    // The listener connects on its own thread; announcements before it listens are missed.
    std::thread::sleep(Duration::from_millis(300));
    let monday = Monday::with_capacity(2);
    database.book(monday.booking("09:00:00"), monday.admission, None).wait().unwrap();
    let other = second.book(monday.booking("10:00:00"), monday.admission, None).wait().unwrap();
    let heard_change = heard.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(heard_change, other.done().unwrap().changed, "what the write returned");
    let closure = booking_core::closure::Closure {
        id: booking_core::closure::ClosureId::random(),
        resource: None,
        period: monday.at("12:00:00").slot,
        reason: None,
        created_at: monday.admission.now(),
    };
    second.add_closure(closure).wait().unwrap();
    assert_eq!(heard.recv_timeout(Duration::from_secs(5)).unwrap(), Change::Everything);
    assert!(heard.try_recv().is_err(), "its own booking was announced back to it");
}

/// Creates the slot row of `resource` at the epoch if it is new, and locks it until the
/// transaction ends.
fn lock_slot(connection: &mut AnyConnection, resource: &str) -> QueryResult<()> {
    diesel::sql_query("SELECT lock_slots(ARRAY[$1], ARRAY['0'])")
        .bind::<diesel::sql_types::Text, _>(resource)
        .execute(connection)
        .map(drop)
}

/// Two writes that lock the same two slots in opposite orders deadlock; PostgreSQL aborts one,
/// and the store runs it again, so both succeed. The server words its errors in German: the
/// deadlock is known by its SQLSTATE.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn a_write_aborted_to_break_a_deadlock_is_retried() {
    let database = TestDatabase::speaking_german();
    let barrier = std::sync::Barrier::new(2);
    let attempts: Vec<u32> = std::thread::scope(|scope| {
        let handles: Vec<_> = [("a", "b"), ("b", "a")]
            .into_iter()
            .map(|(first, second)| {
                let (database, barrier) = (&database, &barrier);
                scope.spawn(move || {
                    let mut attempts = 0;
                    let written: Result<(), WriteError<()>> =
                        database.store().write_now(|connection| {
                            attempts += 1;
                            lock_slot(connection, first)?;
                            if attempts == 1 {
                                // Both hold their first lock before either asks for its second.
                                barrier.wait();
                            }
                            lock_slot(connection, second)?;
                            Ok(())
                        });
                    assert!(written.is_ok(), "{written:?}");
                    attempts
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut attempts = attempts;
    attempts.sort_unstable();
    assert_eq!(attempts, [1, 2], "one of the two was aborted and run again");
}

/// A listener whose connection is cut reconnects and says that announcements may have been
/// missed, so streams reload.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn a_lost_listening_connection_comes_back_and_asks_for_a_reload() {
    let database = TestDatabase::new();
    let (sender, heard) = std::sync::mpsc::channel();
    let _listening =
        database.listen(move |announcement| sender.send(announcement).is_ok()).unwrap();
    let cut = diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1",
    )
    .bind::<diesel::sql_types::Text, _>(format!("LISTEN \"{}\"", database.store().channel));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    // The listener connects on its own thread: cut it once it is there.
    while cut.clone().execute(&mut **database.store().connection().unwrap()).unwrap() == 0 {
        assert!(std::time::Instant::now() < deadline, "the listener never connected");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(heard.recv_timeout(Duration::from_secs(10)).unwrap(), Change::Everything);
}

/// Every migration reverts (the newest first) and applies again on a schema of its own.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn migrations_revert_cleanly_and_reapply() {
    use diesel_migrations::MigrationHarness;
    let schema = TestSchema::create();
    let mut connection = PgConnection::establish(schema.url().expose()).unwrap();
    let applied = connection.run_pending_migrations(connection::MIGRATIONS).unwrap().len();
    let reverted = connection.revert_all_migrations(connection::MIGRATIONS).unwrap().len();
    assert_eq!(reverted, applied);
    assert_eq!(connection.run_pending_migrations(connection::MIGRATIONS).unwrap().len(), applied);
}

/// Canceled, completed and no-show appointments are final, whatever writes to the table.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn the_database_refuses_to_change_a_final_appointment() {
    let database = TestDatabase::new();
    let mut connection = PgConnection::establish(database._schema.url().expose()).unwrap();
    for (n, status) in ["canceled", "completed", "no_show"].into_iter().enumerate() {
        diesel::sql_query(format!(
            "INSERT INTO appointments (id, client_name, start_at, end_at, status, created_at, \
             updated_at, resource, occupied) VALUES ('67e55044-10b1-426f-9247-bb680e5fe0c{n}', \
             'Ada', 100, 200, '{status}', 1, 1, 'default', '100')"
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
    // Only a move records where it left from, and a service only with its resource.
    for (kind, resource, service, allowed) in [
        ("rescheduled", "'alice'", "'cut'", true),
        ("canceled", "'alice'", "NULL", false),
        ("rescheduled", "NULL", "'cut'", false),
    ] {
        let from = if kind == "rescheduled" { "150, 250" } else { "NULL, NULL" };
        let inserted = diesel::sql_query(format!(
            "INSERT INTO appointment_history (appointment_id, made_at, kind, start_at, end_at, \
             from_start_at, from_end_at, actor, from_resource, from_service) VALUES \
             ('67e55044-10b1-426f-9247-bb680e5fe0c0', 1, '{kind}', 100, 200, {from}, 'client', \
             {resource}, {service})"
        ))
        .execute(&mut connection);
        assert_eq!(inserted.is_ok(), allowed, "{kind} {resource} {service}: {inserted:?}");
    }
}

/// Servers of the versions before call `cancel_appointments` and `move_appointments` without
/// a notice, and `move_appointments` without a service, while an upgrade rolls: the calls they
/// know still cancel and move, with no notice, and the appointment keeps its service.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn the_previous_versions_calls_still_cancel_and_move() {
    #[derive(QueryableByName)]
    struct Answered {
        #[diesel(sql_type = diesel::sql_types::Text)]
        answer: String,
    }
    let database = TestDatabase::new();
    let monday = Monday::with_capacity(1);
    let book = |time| {
        database.book(monday.booking(time), monday.admission, None).wait().unwrap().done().unwrap()
    };
    let (moving, canceling) = (book("09:00:00"), book("10:00:00"));
    let mut connection = PgConnection::establish(database._schema.url().expose()).unwrap();
    diesel::sql_query(format!(
        "UPDATE appointments SET service = 'cut' WHERE id = '{}'",
        moving.outcome.id()
    ))
    .execute(&mut connection)
    .unwrap();
    let now = "1893456000"; // 2030-01-01T00:00:00Z
    let moved: Answered = diesel::sql_query(format!(
        "SELECT answer FROM move_appointments(ARRAY['{id}'], ARRAY['client'], ARRAY[NULL], \
         ARRAY[NULL], ARRAY['default'], ARRAY[1], ARRAY[1894014000], ARRAY[1894015800], \
         ARRAY['1894014000'], ARRAY[true], ARRAY[{now}], ARRAY[0])",
        id = moving.outcome.id()
    ))
    .get_result(&mut connection)
    .unwrap();
    assert_eq!(moved.answer, "moved");
    // The call of the version with a notice and no service.
    let back: Answered = diesel::sql_query(format!(
        "SELECT answer FROM move_appointments(ARRAY['{id}'], ARRAY['client'], ARRAY[NULL], \
         ARRAY[NULL], ARRAY['default'], ARRAY[1], ARRAY[1894012200], ARRAY[1894014000], \
         ARRAY['1894012200'], ARRAY[true], ARRAY[{now}], ARRAY[0], ARRAY[0])",
        id = moving.outcome.id()
    ))
    .get_result(&mut connection)
    .unwrap();
    assert_eq!(back.answer, "moved");
    let canceled: Answered = diesel::sql_query(format!(
        "SELECT answer FROM cancel_appointments(ARRAY['{id}'], ARRAY['client'], ARRAY[NULL], \
         ARRAY[NULL], ARRAY[NULL], ARRAY[{now}], ARRAY[0])",
        id = canceling.outcome.id()
    ))
    .get_result(&mut connection)
    .unwrap();
    assert_eq!(canceled.answer, "canceled");
    let moved = database.get(moving.outcome.id()).unwrap().unwrap();
    assert_eq!(moved.slot().start().timestamp(), 1_894_012_200);
    assert_eq!(moved.service().map(|s| s.as_str()), Some("cut"), "the service is kept");
    let canceled = database.get(canceling.outcome.id()).unwrap().unwrap();
    assert_eq!(canceled.status(), booking_core::appointment::Status::Canceled);
}

/// A database the first release left, with an appointment, its slots and a stored answer for a
/// key, upgrades with all of them: the appointment keeps its slots, and the key replays the
/// appointment it answered with.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn an_earlier_database_upgrades_with_its_bookings_and_keys() {
    use diesel_migrations::MigrationHarness;
    let schema = TestSchema::create();
    let mut connection = PgConnection::establish(schema.url().expose()).unwrap();
    connection.run_next_migration(connection::MIGRATIONS).unwrap();
    let id = "67e55044-10b1-426f-9247-bb680e5fe0c8";
    diesel::sql_query(format!(
        "INSERT INTO appointments VALUES ('{id}', 'Ada', NULL, 1893488400, 1893490200, 'canceled', 1893484800, 1893485000, 'default', NULL)"
    ))
    .execute(&mut connection)
    .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO appointment_slots VALUES ('{id}', 1893490200), ('{id}', 1893488400)"
    ))
    .execute(&mut connection)
    .unwrap();
    let body = format!(
        r#"{{"message":"Appointment scheduled successfully.","appointment_id":"{id}","appointment":{{"id":"{id}","client_name":"Ada","resource":"default","service":null,"date":"2030-01-01","time":"09:00","start":"2030-01-01T10:00:00+01:00","end":"2030-01-01T10:30:00+01:00","status":"scheduled","notes":null,"created_at":"2030-01-01T08:00:00Z","updated_at":"2030-01-01T08:00:00Z"}}}}"#
    );
    diesel::sql_query("INSERT INTO idempotency_keys VALUES ('old-key', 'POST /schedule', 201, $1, NULL, 1893484800)")
        .bind::<diesel::sql_types::Text, _>(body)
        .execute(&mut connection)
        .unwrap();
    drop(connection);
    let repository = PgRepository::open(schema.url(), &StoreOptions::default()).unwrap();
    let stored = repository.get(id.parse().unwrap()).unwrap().unwrap();
    let at = |seconds| chrono::DateTime::from_timestamp(seconds, 0).unwrap();
    assert_eq!(stored.occupied(), [at(1893488400), at(1893490200)]);
    let retry = booking_core::idempotency::Idempotency {
        key: booking_core::idempotency::IdempotencyKey::parse("old-key").unwrap(),
        fingerprint: "POST /schedule".to_owned(),
        now: at(1893484900),
        lifetime: chrono::Duration::hours(24),
    };
    let monday = Monday::with_capacity(1);
    let replayed = repository.book(monday.booking("09:00:00"), monday.admission, Some(retry));
    let booking_core::idempotency::Outcome::Replayed(appointment) = replayed.wait().unwrap() else {
        panic!("the old key was not replayed");
    };
    assert_eq!(appointment.status().as_str(), "scheduled", "as answered, though canceled since");
    assert_eq!(appointment.slot().start(), at(1893488400));
    assert_eq!(appointment.occupied(), stored.occupied());
}

/// Terminates the backends of `repository`'s connections used for `purpose` (`pool`, `writer`,
/// `announcer`), as a database restart or a network cut would; answers how many.
fn cut(repository: &PgRepository, purpose: &str, other: &mut PgConnection) -> usize {
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind::<diesel::sql_types::Text, _>(format!("booking {purpose} {}", repository.store().origin))
    .execute(other)
    .unwrap()
}

/// No query tests a connection as it is handed out: one that failed as a lost connection
/// would is dropped when it comes back. A read that meets the loss runs again on a new
/// connection (it is safe to repeat) and answers; a batch of writes fails alone, whatever its
/// kind, keyed or not, and the next one has new connections.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn a_connection_lost_under_a_request_is_replaced_after_it() {
    let schema = TestSchema::create();
    let options = StoreOptions { pool_size: 1, ..StoreOptions::default() };
    let repository = PgRepository::open(schema.url(), &options).unwrap();
    let mut other = PgConnection::establish(schema.url().expose()).unwrap();
    let unknown = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().unwrap();

    assert_eq!(cut(&repository, "pool", &mut other), 1, "the read connection was found");
    assert_eq!(repository.get(unknown).unwrap(), None, "the read ran again on a new connection");

    // Both writers' connections go; a write on either answers "unavailable" and the pool
    // replaces it, so that a retry (at most one more failing, on the other) succeeds.
    fn until_written<T, R>(
        write: impl Fn() -> Result<T, WriteError<R>>,
    ) -> (u32, Result<T, WriteError<R>>) {
        let mut failed = 0;
        loop {
            match write() {
                Err(WriteError::Storage(error))
                    if error.kind() == StorageErrorKind::Unavailable && failed < 2 =>
                {
                    failed += 1;
                }
                answer => return (failed, answer),
            }
        }
    }
    assert_eq!(cut(&repository, "writer", &mut other), 2, "the writers' connections were found");
    let monday = Monday::with_capacity(1);
    let (failed, booked) = until_written(|| {
        repository.book(monday.booking("09:00:00"), monday.admission, None).wait()
    });
    assert!(failed >= 1, "the first write met a cut connection");
    let booked = booked.unwrap().done().unwrap().outcome;

    // A keyed cancel is a batch like any other; nothing of the lost attempts was kept.
    let keyed = || booking_core::idempotency::Idempotency {
        key: booking_core::idempotency::IdempotencyKey::parse("lost-key").unwrap(),
        fingerprint: "POST /cancel".to_owned(),
        now: monday.admission.now(),
        lifetime: chrono::Duration::hours(24),
    };
    assert_eq!(cut(&repository, "writer", &mut other), 2);
    let (failed, canceled) = until_written(|| {
        repository.cancel(cancellation(booked.id(), monday.admission.now()), Some(keyed())).wait()
    });
    assert!(failed >= 1, "the first cancel met a cut connection");
    assert!(matches!(canceled, Ok(booking_core::idempotency::Outcome::Done(_))), "{canceled:?}");
    drop(repository);
}

/// The announcing connection, cut between two writes, is replaced and the second write's change
/// still reaches the other servers.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn a_lost_announcing_connection_is_replaced_and_the_change_still_heard() {
    let database = TestDatabase::new();
    let second = second_server(&database);
    let (sender, heard) = std::sync::mpsc::channel();
    let _listening = second.listen(move |announcement| sender.send(announcement).is_ok()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let monday = Monday::with_capacity(2);
    let first = database.book(monday.booking("09:00:00"), monday.admission, None).wait().unwrap();
    assert_eq!(heard.recv_timeout(Duration::from_secs(5)).unwrap(), first.done().unwrap().changed);
    let mut other = PgConnection::establish(database._schema.url().expose()).unwrap();
    assert_eq!(cut(&database, "announcer", &mut other), 1, "the announcing connection was found");
    let again = database.book(monday.booking("10:00:00"), monday.admission, None).wait().unwrap();
    assert_eq!(heard.recv_timeout(Duration::from_secs(5)).unwrap(), again.done().unwrap().changed);
}

/// A conversion refused inside the booking function leaves the hold's row as it was: a release
/// that waited for that row's lock meanwhile still finds the hold, and releases it.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn a_release_waiting_on_a_refused_conversion_still_finds_the_hold() {
    let schema = TestSchema::create();
    let repository = PgRepository::open(schema.url(), &StoreOptions::default()).unwrap();
    let monday = Monday::with_capacity(1);
    let held = repository.hold(monday.hold("09:00:00", None), monday.admission).wait().unwrap();
    let token = held.outcome.token.as_str().to_owned();
    let mut converting = PgConnection::establish(schema.url().expose()).unwrap();
    let run = |connection: &mut PgConnection, sql: &str| {
        diesel::sql_query(sql).bind::<diesel::sql_types::Text, _>(&token).execute(connection)
    };
    // A closure over the held slot, for every resource: the conversion below is refused.
    run(
        &mut converting,
        "INSERT INTO closures SELECT repeat('c', 36), NULL, start_at, start_at + 60, 'test', 0 \
         FROM hold_slots WHERE token = $1 ORDER BY start_at LIMIT 1",
    )
    .unwrap();
    run(&mut converting, "BEGIN").unwrap();
    let refused = run(
        &mut converting,
        "CREATE TEMPORARY TABLE answer AS SELECT * FROM book_first_free(\
         ARRAY[(SELECT resource FROM holds WHERE token = $1)], ARRAY[1], \
         ARRAY[(SELECT start_at FROM holds WHERE token = $1)], \
         ARRAY[(SELECT end_at FROM holds WHERE token = $1)], \
         ARRAY[(SELECT string_agg(start_at::TEXT, ',' ORDER BY start_at) FROM hold_slots \
                WHERE token = $1)], \
         ARRAY[NULL::TEXT], gen_random_uuid()::TEXT, 'Ada', NULL, 1893456000, $1, 'client')",
    );
    assert_eq!(refused, Ok(1), "the call answered one row");
    std::thread::scope(|scope| {
        let releasing = scope.spawn(|| {
            repository.release_hold(held.outcome.token.clone(), monday.admission.now()).wait()
        });
        let mut watching = PgConnection::establish(schema.url().expose()).unwrap();
        let waiting = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            #[derive(QueryableByName)]
            struct Waiting {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            diesel::sql_query("SELECT count(*) AS n FROM pg_locks WHERE NOT granted")
                .get_result::<Waiting>(&mut watching)
                .is_ok_and(|waiting| waiting.n > 0)
        });
        assert!(waiting, "the release waits for the hold's row");
        #[derive(QueryableByName)]
        struct Refusal {
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            refused: Option<String>,
        }
        let answer: Refusal =
            diesel::sql_query("SELECT refused FROM answer").get_result(&mut converting).unwrap();
        assert_eq!(answer.refused.as_deref(), Some("closed"));
        run(&mut converting, "COMMIT").unwrap();
        let released = releasing.join().unwrap();
        assert!(released.is_ok(), "the hold was still there to release: {released:?}");
    });
}

/// The history entry and the webhook deliveries it queues are part of the write: when either
/// cannot be written, neither is the change, whichever way the write goes (the booking
/// function, with or without a key; the cancel function, or the shared transaction with a key).
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn a_write_whose_history_or_outbox_cannot_be_written_changes_nothing() {
    use booking_core::notification::{NotificationKind, Notifications};
    use booking_core::{
        idempotency::{Idempotency, IdempotencyKey},
        storage::WriteError,
    };
    for table in ["appointment_history", "webhook_deliveries", "notifications"] {
        let database = TestDatabase::new();
        booking_core::contract::subscribe_everything(&*database);
        let plan = booking_core::notification::Plan::default();
        database.plan_notifications(Some(plan), chrono::Utc::now()).wait().unwrap();
        let monday = Monday::with_capacity(1);
        let mut connection = PgConnection::establish(database._schema.url().expose()).unwrap();
        let refuse = |connection: &mut PgConnection, on: bool| {
            let sql = if on {
                format!(
                    "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION 'not today'; END $$; \
                     CREATE TRIGGER refuse BEFORE INSERT ON {table} \
                     FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            } else {
                format!("DROP TRIGGER refuse ON {table}")
            };
            diesel::connection::SimpleConnection::batch_execute(connection, &sql).unwrap();
        };
        let keyed = |name: &str| {
            Some(Idempotency {
                key: IdempotencyKey::parse(name).unwrap(),
                fingerprint: name.to_owned(),
                now: monday.admission.now(),
                lifetime: chrono::Duration::hours(1),
            })
        };
        refuse(&mut connection, true);
        for key in [None, keyed("book")] {
            let booking = monday.booking("09:00:00");
            let failed = database.book(booking.clone(), monday.admission, key).wait();
            assert!(matches!(failed, Err(WriteError::Storage(_))), "{table}: {failed:?}");
            assert_eq!(database.get(booking.id).unwrap(), None, "{table}");
        }
        let nine = monday.at("09:00:00").slot.start();
        let usage = database.usage(None, nine, nine, monday.admission.now()).unwrap();
        assert!(usage.values().all(|u| u.booked == 0), "{table}: {usage:?}");

        refuse(&mut connection, false);
        let booked = database.book(monday.booking("09:00:00"), monday.admission, None).wait();
        let booked = booked.unwrap().done().unwrap().outcome;
        refuse(&mut connection, true);
        for key in [None, keyed("cancel")] {
            let cancel = cancellation(booked.id(), monday.admission.now());
            let failed = database.cancel(cancel, key).wait();
            assert!(matches!(failed, Err(WriteError::Storage(_))), "{table}: {failed:?}");
            assert_eq!(database.get(booked.id()).unwrap(), Some(booked.clone()), "{table}");
        }
        // Only the booking that committed queued its message.
        let queued = database.notifications(None, 10).unwrap();
        let about: Vec<_> = queued.iter().map(|n| (n.appointment, n.kind)).collect();
        assert_eq!(about, [(booked.id(), NotificationKind::Confirmation)], "{table}");
    }
}

/// A server of the previous version calls the booking and cancel functions with their old
/// arguments while an upgrade rolls: they still work, and still record the history (as the
/// client's, that version's only actor).
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn the_previous_versions_calls_still_book_cancel_and_record() {
    use booking_core::history::{Actor, Transition};
    use diesel::sql_types::{BigInt, Text};
    let database = TestDatabase::new();
    let monday = Monday::with_capacity(1);
    let nine = monday.at("09:00:00");
    let (start, end) = (nine.slot.start().timestamp(), nine.slot.end().timestamp());
    let id = booking_core::appointment::AppointmentId::random();
    let now = monday.admission.now().timestamp();
    let mut old = PgConnection::establish(database._schema.url().expose()).unwrap();
    diesel::sql_query(
        "SELECT * FROM book_first_free(ARRAY['default'], ARRAY[1], ARRAY[$1], ARRAY[$2], \
         ARRAY[$1::TEXT], ARRAY[NULL::TEXT], $3, 'Ada', NULL, $4, NULL)",
    )
    .bind::<BigInt, _>(start)
    .bind::<BigInt, _>(end)
    .bind::<Text, _>(id.to_string())
    .bind::<BigInt, _>(now)
    .execute(&mut old)
    .unwrap();
    diesel::sql_query("SELECT * FROM cancel_appointment($1, $2)")
        .bind::<Text, _>(id.to_string())
        .bind::<BigInt, _>(now)
        .execute(&mut old)
        .unwrap();
    let history = database.history(id).unwrap().unwrap();
    let recorded: Vec<_> = history.iter().map(|e| (e.change, e.by, e.slot)).collect();
    assert_eq!(
        recorded,
        [
            (Transition::Scheduled, Actor::Client, nine.slot),
            (Transition::Canceled, Actor::Client, nine.slot)
        ]
    );

    // The version before contact details calls the booking function with the actor last: it
    // books, with no contact details, and records who booked.
    let other = booking_core::appointment::AppointmentId::random();
    diesel::sql_query(
        "SELECT * FROM book_first_free(ARRAY['default'], ARRAY[1], ARRAY[$1], ARRAY[$2], \
         ARRAY[$1::TEXT], ARRAY[NULL::TEXT], $3, 'Ada', NULL, $4, NULL, 'operator')",
    )
    .bind::<BigInt, _>(start)
    .bind::<BigInt, _>(end)
    .bind::<Text, _>(other.to_string())
    .bind::<BigInt, _>(now)
    .execute(&mut old)
    .unwrap();
    let booked = database.get(other).unwrap().unwrap();
    assert_eq!(booked.contact(), &booking_core::contact::Contact::default());
    let entries = database.history(other).unwrap().unwrap();
    assert_eq!(entries.iter().map(|e| e.by).collect::<Vec<_>>(), [Actor::Operator]);
}

/// Timeouts, a lock not had in time and a deadlock pass (503, or a retry); a broken rule is a
/// fault (500): judged by SQLSTATE, on connections whose errors PostgreSQL words in German.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn errors_are_judged_by_their_sqlstate_in_any_language() {
    use diesel::connection::SimpleConnection;
    let schema = TestSchema::create();
    let url = schema.url_speaking(GERMAN);
    let connect = || PgConnection::establish(url.expose()).expect(NEEDS_GERMAN);
    let (mut first, mut second) = (connect(), connect());
    first
        .batch_execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY CHECK (id > 0)); INSERT INTO t VALUES (1), (2)",
        )
        .unwrap();
    let judged = |error: DieselError| {
        let words = error.to_string();
        (storage_error(error), words)
    };

    first.batch_execute("SET statement_timeout = 20").unwrap();
    let (timeout, words) = judged(first.batch_execute("SELECT pg_sleep(1)").unwrap_err());
    assert!(!words.contains("canceling statement"), "the server words it in German: {words}");
    assert_eq!(timeout.kind(), StorageErrorKind::Unavailable, "{words}");
    assert!(!is_conflict(&timeout) && !is_closed(&timeout), "{words}");

    first.batch_execute("SET statement_timeout = 0; SET lock_timeout = 20").unwrap();
    second.batch_execute("BEGIN; SELECT * FROM t WHERE id = 1 FOR UPDATE").unwrap();
    let (locked, words) =
        judged(first.batch_execute("SELECT * FROM t WHERE id = 1 FOR UPDATE").unwrap_err());
    assert_eq!(locked.kind(), StorageErrorKind::Unavailable, "{words}");
    second.batch_execute("ROLLBACK").unwrap();

    first.batch_execute("SET lock_timeout = 0").unwrap();
    let barrier = std::sync::Barrier::new(2);
    let errors: Vec<DieselError> = std::thread::scope(|scope| {
        let handles: Vec<_> = [(&mut first, 1, 2), (&mut second, 2, 1)]
            .into_iter()
            .map(|(connection, mine, theirs)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    connection
                        .batch_execute(&format!(
                            "BEGIN; SELECT * FROM t WHERE id = {mine} FOR UPDATE"
                        ))
                        .unwrap();
                    barrier.wait();
                    let second_lock = connection
                        .batch_execute(&format!("SELECT * FROM t WHERE id = {theirs} FOR UPDATE"));
                    connection.batch_execute("ROLLBACK").unwrap();
                    second_lock.err()
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().unwrap()).collect()
    });
    let [deadlock] = <[DieselError; 1]>::try_from(errors).expect("one of the two is aborted");
    let (deadlock, words) = judged(deadlock);
    assert!(is_conflict(&deadlock), "a deadlock is retried: {words}");

    let (broken, words) = judged(first.batch_execute("INSERT INTO t VALUES (0)").unwrap_err());
    assert_eq!(broken.kind(), StorageErrorKind::Fault, "{words}");
}

/// A statement the database canceled for its timeout answers "unavailable", and its connection,
/// which is as good as before, stays in the pool: the next request gets the same backend.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn a_connection_whose_statement_timed_out_is_kept() {
    #[derive(QueryableByName)]
    struct Backend {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let schema = TestSchema::create();
    let options = StoreOptions {
        pool_size: 1,
        statement_timeout: Duration::from_millis(50),
        ..StoreOptions::default()
    };
    let repository = PgRepository::open(schema.url(), &options).unwrap();
    let backend = |repository: &PgRepository| {
        repository
            .store()
            .read(|connection| {
                diesel::sql_query("SELECT pg_backend_pid() AS pid")
                    .get_result::<Backend>(connection)
                    .map_err(storage_error)
            })
            .unwrap()
            .pid
    };
    let before = backend(&repository);
    let timed_out = repository.store().read(|connection| {
        diesel::sql_query("SELECT pg_sleep(1)").execute(connection).map_err(storage_error)
    });
    assert!(
        matches!(&timed_out, Err(error) if error.kind() == StorageErrorKind::Unavailable),
        "{timed_out:?}"
    );
    assert_eq!(backend(&repository), before, "the same connection serves the next request");
}

/// Two servers move two appointments across each other's slots at once, round after round (the
/// pattern that deadlocks when a move locks its old slots, then its new ones): every move locks
/// both in one order, so each succeeds the first time, with no batch aborted and run again.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn opposite_moves_on_two_servers_never_deadlock() {
    let database = TestDatabase::new();
    let second = second_server(&database);
    let monday = Monday::with_capacity(2);
    let barrier = std::sync::Barrier::new(2);
    for (here, there) in
        [("09:00:00", "09:30:00"), ("11:00:00", "12:00:00"), ("14:00:00", "14:30:00")]
    {
        let first = database.book(monday.booking(here), monday.admission, None).wait().unwrap();
        let other = second.book(monday.booking(there), monday.admission, None).wait().unwrap();
        let pairs = [
            (&*database, first.done().unwrap().outcome.id(), there),
            (&second, other.done().unwrap().outcome.id(), here),
        ];
        for _ in 0..4 {
            let moved: Vec<_> = std::thread::scope(|scope| {
                let handles: Vec<_> = pairs
                    .iter()
                    .map(|(server, id, to)| {
                        let (barrier, monday) = (&barrier, &monday);
                        scope.spawn(move || {
                            barrier.wait();
                            server
                                .reschedule(
                                    *id,
                                    monday.at(to),
                                    monday.admission,
                                    booking_core::history::Actor::Client,
                                    None,
                                )
                                .wait()
                        })
                    })
                    .collect();
                handles.into_iter().map(|handle| handle.join().unwrap()).collect()
            });
            assert!(moved.iter().all(Result::is_ok), "{moved:?}");
        }
    }
    assert_eq!((database.store().writer.retries(), second.store().writer.retries()), (0, 0));
}

/// Writes that queue while the database is busy meet in one batch: those that touch one slot or
/// share a key are decided one after the other, as if they had come one by one.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn writes_that_meet_in_one_batch_are_decided_in_turn() {
    use booking_core::{
        idempotency::{Idempotency, IdempotencyKey, Outcome},
        repository::BookFailure,
    };
    let database = TestDatabase::new();
    let monday = Monday::with_capacity(1);
    // Every booking waits for the closures lock, held here, so the writes queue meanwhile.
    let mut closing = PgConnection::establish(database._schema.url().expose()).unwrap();
    diesel::sql_query("SELECT pg_advisory_lock(1651207783, 1)").execute(&mut closing).unwrap();
    let keyed = || Idempotency {
        key: IdempotencyKey::parse("one-key").unwrap(),
        fingerprint: "POST /schedule 10:00".to_owned(),
        now: monday.admission.now(),
        lifetime: chrono::Duration::hours(24),
    };
    let same_slot: Vec<_> =
        (0..6).map(|_| database.book(monday.booking("09:00:00"), monday.admission, None)).collect();
    let same_key: Vec<_> = (0..3)
        .map(|_| database.book(monday.booking("10:00:00"), monday.admission, Some(keyed())))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    diesel::sql_query("SELECT pg_advisory_unlock(1651207783, 1)").execute(&mut closing).unwrap();

    let answers: Vec<_> = same_slot.into_iter().map(|pending| pending.wait()).collect();
    let booked = answers.iter().filter(|answer| answer.is_ok()).count();
    let full = answers
        .iter()
        .filter(|answer| matches!(answer, Err(WriteError::Refused(BookFailure::Unavailable(_)))))
        .count();
    assert_eq!((booked, full), (1, 5), "{answers:?}");

    let answers: Vec<_> = same_key.into_iter().map(|pending| pending.wait().unwrap()).collect();
    let done: Vec<_> = answers.iter().filter_map(|answer| answer.clone().done()).collect();
    assert_eq!(done.len(), 1, "{answers:?}");
    for answer in &answers {
        if let Outcome::Replayed(appointment) = answer {
            assert_eq!(appointment, &done[0].outcome, "a repeat replays the first booking");
        }
    }
    let start = monday.at("10:00:00").slot.start();
    let usage = database.usage(None, start, start, monday.admission.now()).unwrap();
    assert_eq!(usage.values().map(|u| u.booked).sum::<u32>(), 1);
}

/// A server opens as many writers as its options ask for, each on a connection of its own,
/// named for what it does.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn a_server_opens_the_writers_it_is_asked_for() {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        connections: i64,
    }
    let schema = TestSchema::create();
    let mut other = PgConnection::establish(schema.url().expose()).unwrap();
    for writers in [1, 3] {
        let options = StoreOptions { writers, ..StoreOptions::default() };
        let repository = PgRepository::open(schema.url(), &options).unwrap();
        let counted: Count = diesel::sql_query(
            "SELECT count(*) AS connections FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind::<diesel::sql_types::Text, _>(format!("booking writer {}", repository.store().origin))
        .get_result(&mut other)
        .unwrap();
        assert_eq!(counted.connections, i64::from(writers));
        let monday = Monday::with_capacity(1);
        let time = if writers == 1 { "09:00:00" } else { "10:00:00" };
        assert!(repository.book(monday.booking(time), monday.admission, None).wait().is_ok());
    }
}

/// A booking that reaches the database while a calendar change holds the calendar lock waits
/// for the change, and is refused when the change replaced the version it was placed under;
/// one placed under the new version is taken.
#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
fn a_booking_waits_for_a_calendar_change_and_is_refused_under_the_old_version() {
    use booking_core::{
        admission::Unavailable,
        calendar::{CalendarChange, StoredCalendar},
        repository::{BookFailure, Calendars},
    };
    let database = TestDatabase::new();
    let monday = Monday::with_capacity(1);
    let now = monday.admission.now();
    let schedule = |version| {
        let stored = StoredCalendar { version, calendar: monday.schedule.calendar() };
        monday.schedule.following(stored).unwrap()
    };
    let first = CalendarChange { after: 0, schedule: schedule(1), now };
    database.store_calendar(first).wait().unwrap();
    let placed_under = |version| booking_core::repository::Booking {
        candidates: vec![booking_core::placement::Placement {
            calendar: version,
            ..monday.at("09:00:00")
        }],
        ..monday.booking("09:00:00")
    };
    // A change in flight: the calendar lock, taken as a change takes it, and its new version.
    let mut changing = PgConnection::establish(database._schema.url().expose()).unwrap();
    diesel::sql_query("BEGIN").execute(&mut changing).unwrap();
    diesel::sql_query("SELECT pg_advisory_xact_lock(1651207783, 3)")
        .execute(&mut changing)
        .unwrap();
    diesel::sql_query("UPDATE calendar SET version = 2").execute(&mut changing).unwrap();
    let waiting = database.book(placed_under(1), monday.admission, None);
    std::thread::sleep(Duration::from_millis(300));
    diesel::sql_query("COMMIT").execute(&mut changing).unwrap();
    assert!(matches!(
        waiting.wait(),
        Err(WriteError::Refused(BookFailure::Unavailable(Unavailable::CalendarChanged)))
    ));
    let taken = database.book(placed_under(2), monday.admission, None).wait();
    assert!(taken.is_ok(), "{taken:?}");
}
