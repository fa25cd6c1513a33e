//! Idempotency records past their lifetime, forgotten by the sweep. (Each backend's writes read
//! and write the records themselves, in the write's own transaction.)

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{AnyConnection, rows::seconds};

/// Forgets at most `most` records made at or before `before`, oldest first, passing over those
/// a write in flight has locked; answers how many.
pub(super) fn forget(
    connection: &mut AnyConnection,
    before: DateTime<Utc>,
    most: u32,
) -> QueryResult<u64> {
    let forgotten = diesel::sql_query(connection.dialect().forget_keys)
        .bind::<diesel::sql_types::BigInt, _>(seconds(before))
        .bind::<diesel::sql_types::BigInt, _>(i64::from(most))
        .execute(connection)?;
    Ok(forgotten as u64)
}
