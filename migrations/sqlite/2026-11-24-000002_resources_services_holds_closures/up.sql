-- Resources and services: every appointment belongs to a resource (the single resource of
-- earlier versions is 'default') and may name a service.
ALTER TABLE appointments ADD COLUMN resource TEXT NOT NULL DEFAULT 'default'
    CHECK (length(resource) BETWEEN 1 AND 40);
ALTER TABLE appointments ADD COLUMN service TEXT
    CHECK (service IS NULL OR length(service) BETWEEN 1 AND 40);

DROP INDEX appointments_by_start;
CREATE INDEX appointments_by_start_and_id ON appointments (start_at, id);

-- Every slot an appointment takes on its resource, buffers included, so that canceling or
-- moving it gives back exactly what it took, whatever the configuration says by then.
CREATE TABLE appointment_slots (
    appointment_id TEXT    NOT NULL REFERENCES appointments (id),
    start_at       INTEGER NOT NULL,
    PRIMARY KEY (appointment_id, start_at)
) STRICT, WITHOUT ROWID;
INSERT INTO appointment_slots (appointment_id, start_at) SELECT id, start_at FROM appointments;

-- How many scheduled appointments take each slot of each resource. A write raises a count with
-- a conditional update (booked < capacity) in the transaction that records the appointment.
CREATE TABLE occupancy (
    resource TEXT    NOT NULL,
    start_at INTEGER NOT NULL,
    booked   INTEGER NOT NULL CHECK (booked >= 0),
    PRIMARY KEY (resource, start_at)
) STRICT, WITHOUT ROWID;
INSERT INTO occupancy (resource, start_at, booked) SELECT 'default', start_at, booked FROM slot_usage;
DROP TABLE slot_usage;

-- Holds count against capacity while expires_at is in the future; an expired hold simply stops
-- counting, so no clean-up job is needed for correctness.
CREATE TABLE holds (
    token      TEXT    PRIMARY KEY NOT NULL CHECK (length(token) = 32),
    resource   TEXT    NOT NULL,
    service    TEXT,
    start_at   INTEGER NOT NULL,
    end_at     INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    CHECK (end_at > start_at)
) STRICT;

CREATE TABLE hold_slots (
    token      TEXT    NOT NULL REFERENCES holds (token) ON DELETE CASCADE,
    resource   TEXT    NOT NULL,
    start_at   INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (token, start_at)
) STRICT, WITHOUT ROWID;
CREATE INDEX hold_slots_by_slot ON hold_slots (resource, start_at, expires_at);

-- Periods in which a resource (or, with resource NULL, the whole business) takes no bookings.
CREATE TABLE closures (
    id         TEXT    PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    resource   TEXT,
    start_at   INTEGER NOT NULL,
    end_at     INTEGER NOT NULL,
    reason     TEXT    CHECK (reason IS NULL OR length(reason) <= 500),
    created_at INTEGER NOT NULL,
    CHECK (end_at > start_at)
) STRICT;
CREATE INDEX closures_by_start ON closures (start_at);
