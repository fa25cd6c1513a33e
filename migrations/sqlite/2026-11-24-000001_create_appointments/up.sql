-- Appointments. Instants are whole seconds since the Unix epoch, UTC.
CREATE TABLE appointments (
    id          TEXT    PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    client_name TEXT    NOT NULL CHECK (length(client_name) BETWEEN 1 AND 100),
    notes       TEXT    CHECK (notes IS NULL OR length(notes) BETWEEN 1 AND 1000),
    start_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('scheduled', 'canceled')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CHECK (end_at > start_at)
) STRICT;

CREATE INDEX appointments_by_start ON appointments (start_at);

-- Canceling is final: no write may change a canceled appointment, whoever makes it.
CREATE TRIGGER canceled_appointments_are_final
BEFORE UPDATE ON appointments
WHEN OLD.status = 'canceled'
BEGIN
    SELECT RAISE(ABORT, 'a canceled appointment cannot change');
END;

-- How many scheduled appointments start at each instant. A booking raises the count with a
-- conditional update (booked < capacity) in the transaction that inserts the appointment, so
-- the check and the write are one step for every process that shares the database.
CREATE TABLE slot_usage (
    start_at INTEGER PRIMARY KEY NOT NULL,
    booked   INTEGER NOT NULL CHECK (booked >= 0)
) STRICT;
