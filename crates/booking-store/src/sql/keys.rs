//! Idempotency keys: the stored answer of a keyed write, read and written inside the write's
//! own transaction.

use booking_core::{
    appointment::Appointment,
    idempotency::{Idempotency, StoredResponse},
};
use diesel::prelude::*;

use super::{Db, TxError, dialect, rows::seconds, schema::idempotency_keys};

/// The stored answer for a key seen with the same request; a key seen with another request is
/// refused. Forgets keys older than their lifetime first. Holds the key until the transaction
/// ends, so a concurrent request with the same key waits and then replays this one's answer.
pub(super) fn replay<R>(
    connection: &mut Db,
    idempotency: Option<Idempotency<'_>>,
) -> Result<Option<StoredResponse>, TxError<R>> {
    let Some(idempotency) = idempotency else { return Ok(None) };
    dialect::lock_key(connection, idempotency.key.as_str())?;
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::created_at.le(seconds(idempotency.oldest_remembered()))),
    )
    .execute(connection)?;
    let stored: Option<(String, i32, String, Option<String>)> = idempotency_keys::table
        .find(idempotency.key.as_str())
        .select((
            idempotency_keys::fingerprint,
            idempotency_keys::status,
            idempotency_keys::body,
            idempotency_keys::location,
        ))
        .first(connection)
        .optional()?;
    match stored {
        Some((fingerprint, status, body, location)) if fingerprint == idempotency.fingerprint => {
            Ok(Some(StoredResponse { status: status.unsigned_abs() as u16, body, location }))
        }
        Some(_) => Err(TxError::KeyReused),
        None => Ok(None),
    }
}

/// Stores the answer to a keyed write that succeeded.
pub(super) fn remember(
    connection: &mut Db,
    idempotency: Option<Idempotency<'_>>,
    appointment: &Appointment,
) -> QueryResult<()> {
    let Some(idempotency) = idempotency else { return Ok(()) };
    let response = (idempotency.render)(appointment);
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::key.eq(idempotency.key.as_str()),
            idempotency_keys::fingerprint.eq(idempotency.fingerprint),
            idempotency_keys::status.eq(i32::from(response.status)),
            idempotency_keys::body.eq(&response.body),
            idempotency_keys::location.eq(&response.location),
            idempotency_keys::created_at.eq(seconds(idempotency.now)),
        ))
        .execute(connection)
        .map(drop)
}
