//! The statements of the write path that Diesel would prepare anew at every call (it never
//! caches an `UPDATE`, since a changeset's columns may vary), written once here as fixed SQL
//! with typed binds. Each has a query id of its own, so every connection prepares it once and
//! then only binds and runs it.
//!
//! Two more rules keep prepared statements prepared, in every query of the hot paths: no
//! variable `IN` list (Diesel does not cache one; a span `BETWEEN` does the same work), and no
//! bound `LIMIT` (Diesel's `first`): SQLite marks a statement whose `LIMIT` is a parameter to be
//! prepared again every time it is bound, since the value may change the plan.

use diesel::{
    QueryResult, RunQueryDsl,
    query_builder::{AstPass, QueryFragment, QueryId},
    sql_types::{BigInt, Integer, Nullable, Text},
    sqlite::Sqlite,
};

/// Declares a statement: a struct of its binds (borrowed for `'a`), and its SQL as literals and
/// `(field: SqlType)` binds in order.
macro_rules! statement {
    (
        $(#[$meta:meta])*
        $name:ident { $($field:ident: $type:ty),* $(,)? }
        sql: $($part:tt)*
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub(super) struct $name<'a> {
            $(pub(super) $field: $type,)*
        }

        impl QueryId for $name<'_> {
            type QueryId = $name<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl QueryFragment<Sqlite> for $name<'_> {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
                statement!(@walk self out $($part)*);
                Ok(())
            }
        }

        impl<Conn> RunQueryDsl<Conn> for $name<'_> {}
    };
    (@walk $self:ident $out:ident) => {};
    (@walk $self:ident $out:ident $sql:literal $($rest:tt)*) => {
        $out.push_sql($sql);
        statement!(@walk $self $out $($rest)*);
    };
    (@walk $self:ident $out:ident ($field:ident: $sql_type:ty) $($rest:tt)*) => {
        $out.push_bind_param::<$sql_type, _>(&$self.$field)?;
        statement!(@walk $self $out $($rest)*);
    };
}

/// Declares a statement of fixed text, with no binds.
macro_rules! fixed {
    ($(#[$meta:meta])* $name:ident = $sql:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        pub(super) struct $name;

        impl QueryId for $name {
            type QueryId = $name;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl QueryFragment<Sqlite> for $name {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
                out.push_sql($sql);
                Ok(())
            }
        }

        impl<Conn> RunQueryDsl<Conn> for $name {}
    };
}

fixed! {
    /// Opens the writer's transaction, taking the database's write lock at once.
    BeginImmediate = "BEGIN IMMEDIATE"
}

fixed! {
    /// Commits the writer's transaction.
    Commit = "COMMIT"
}

fixed! {
    /// Rolls back the writer's transaction.
    Rollback = "ROLLBACK"
}

fixed! {
    /// Opens the savepoint one write of the writer's batch runs in.
    OpenSavepoint = "SAVEPOINT write"
}

fixed! {
    /// Keeps what the write did, for the batch's commit.
    ReleaseSavepoint = "RELEASE write"
}

fixed! {
    /// Undoes what the write did (the savepoint stays open, to be released).
    RollBackToSavepoint = "ROLLBACK TO write"
}

statement! {
    /// Takes one place in a slot (adding its row at the first place), unless it is full:
    /// changes no row when `booked` has reached `limit`, whatever the caller checked before.
    TakePlace { resource: &'a str, start_at: i64, limit: i32 }
    sql: "INSERT INTO occupancy (resource, start_at, booked) VALUES (" (resource: Text) ", "
        (start_at: BigInt) ", 1) ON CONFLICT (resource, start_at) DO UPDATE \
        SET booked = occupancy.booked + 1 WHERE occupancy.booked < " (limit: Integer)
}

statement! {
    /// Gives back one place in a slot.
    GiveBackPlace { resource: &'a str, start_at: i64 }
    sql: "UPDATE occupancy SET booked = booked - 1 WHERE resource = " (resource: Text)
        " AND start_at = " (start_at: BigInt)
}

statement! {
    /// Writes an appointment's status (canceling it).
    SetStatus { id: &'a str, status: &'a str, updated_at: i64 }
    sql: "UPDATE appointments SET status = " (status: Text) ", updated_at = "
        (updated_at: BigInt) " WHERE id = " (id: Text)
}

statement! {
    /// Writes an appointment's new time, resource, service and slots.
    MoveTo {
        id: &'a str,
        start_at: i64,
        end_at: i64,
        resource: &'a str,
        service: Option<&'a str>,
        occupied: &'a str,
        updated_at: i64,
    }
    sql: "UPDATE appointments SET start_at = " (start_at: BigInt) ", end_at = " (end_at: BigInt)
        ", resource = " (resource: Text) ", service = " (service: Nullable<Text>)
        ", occupied = " (occupied: Text) ", updated_at = " (updated_at: BigInt)
        " WHERE id = " (id: Text)
}

#[cfg(test)]
mod tests {
    use diesel::debug_query;

    use super::*;

    #[test]
    fn statements_read_as_written_on_sqlite() {
        let take = TakePlace { resource: "alice", start_at: 60, limit: 2 };
        assert_eq!(
            debug_query::<Sqlite, _>(&take).to_string(),
            "INSERT INTO occupancy (resource, start_at, booked) VALUES (?, ?, 1) ON CONFLICT \
             (resource, start_at) DO UPDATE SET booked = occupancy.booked + 1 WHERE \
             occupancy.booked < ? -- binds: [\"alice\", 60, 2]"
        );
    }
}
