use std::ops::Deref;

use diesel::{debug_query, sqlite::Sqlite};
use tempfile::TempDir;

use super::*;

/// A repository on its own database file, removed with the directory when dropped.
struct TestDatabase {
    repository: SqliteRepository,
    directory: TempDir,
}

impl TestDatabase {
    fn new() -> Self {
        let directory = tempfile::tempdir().unwrap();
        let repository =
            SqliteRepository::open(&directory.path().join("test.db"), SqliteOptions::default())
                .unwrap();
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
    let database = TestDatabase::new();
    let mut connection = database.connection();
    assert_eq!(
        columns_in_database(&mut connection, "appointments"),
        columns_in_schema(appointments::table.select(appointments::all_columns))
    );
    assert_eq!(
        columns_in_database(&mut connection, "slot_usage"),
        columns_in_schema(slot_usage::table.select(slot_usage::all_columns))
    );
}

#[test]
fn migrations_revert_cleanly_and_reapply() {
    let database = TestDatabase::new();
    let mut connection = database.connection();
    connection::revert_all(&mut connection).unwrap();
    assert!(columns_in_database(&mut connection, "appointments").is_empty());
    assert!(columns_in_database(&mut connection, "slot_usage").is_empty());
    connection::reapply(&mut connection).unwrap();
    assert_eq!(columns_in_database(&mut connection, "appointments").len(), 8);
}

#[test]
fn connections_use_wal_full_sync_and_a_busy_timeout() {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let database = TestDatabase::new();
    let mut connection = database.repository.connection().unwrap();
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

#[test]
fn the_database_refuses_to_change_a_canceled_appointment() {
    let database = TestDatabase::new();
    let mut connection = database.connection();
    diesel::sql_query(
        "INSERT INTO appointments VALUES ('67e55044-10b1-426f-9247-bb680e5fe0c8', 'Ada', NULL, 100, 200, 'canceled', 1, 1)",
    )
    .execute(&mut connection)
    .unwrap();
    let error = diesel::sql_query("UPDATE appointments SET status = 'scheduled'")
        .execute(&mut connection)
        .unwrap_err();
    assert!(error.to_string().contains("a canceled appointment cannot change"), "{error}");
}

#[test]
fn the_database_refuses_a_negative_count() {
    let database = TestDatabase::new();
    let mut connection = database.connection();
    diesel::sql_query("INSERT INTO slot_usage VALUES (100, 0)").execute(&mut connection).unwrap();
    let error =
        give_back_place(&mut connection, DateTime::from_timestamp(100, 0).unwrap()).unwrap_err();
    assert!(error.to_string().contains("CHECK constraint failed"), "{error}");
}

#[test]
fn two_stores_on_one_file_share_the_capacity() {
    let database = TestDatabase::new();
    let second = SqliteRepository::open(
        &database.directory.path().join("test.db"),
        SqliteOptions::default(),
    )
    .unwrap();
    let start: DateTime<Utc> = "2030-01-07T09:00:00Z".parse().unwrap();
    let slot = Slot::new(start, start + chrono::Duration::minutes(30)).unwrap();
    let now = "2030-01-01T00:00:00Z".parse().unwrap();
    let admission = booking_core::schedule::Schedule::default().admission(now);
    let booked = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let store = if i % 2 == 0 { &database.repository } else { &second };
                scope.spawn(move || {
                    let appointment = Appointment::schedule(
                        AppointmentId::random(),
                        booking_core::client::ClientName::parse("Ada").unwrap(),
                        None,
                        slot,
                        now,
                    );
                    store.book(&appointment, &admission).is_ok()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).filter(|ok| *ok).count()
    });
    assert_eq!(booked, 1);
    assert_eq!(second.booked_counts(start, start).unwrap().get(&start), Some(&1));
}

#[test]
fn an_unopenable_path_is_a_clear_error() {
    let directory = tempfile::tempdir().unwrap();
    let error = SqliteRepository::open(
        &directory.path().join("missing/dir/x.db"),
        SqliteOptions::default(),
    )
    .unwrap_err();
    assert!(error.to_string().starts_with("cannot open the SQLite database"), "{error}");
}
