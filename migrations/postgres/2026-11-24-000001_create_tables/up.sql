-- The same tables, columns and types as the SQLite schema, so that both backends run the same
-- queries. Instants are whole seconds since the Unix epoch, UTC.

CREATE TABLE appointments (
    id          TEXT    PRIMARY KEY CHECK (char_length(id) = 36),
    client_name TEXT    NOT NULL CHECK (char_length(client_name) BETWEEN 1 AND 100),
    notes       TEXT    CHECK (notes IS NULL OR char_length(notes) BETWEEN 1 AND 1000),
    start_at    BIGINT  NOT NULL,
    end_at      BIGINT  NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('scheduled', 'canceled')),
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    resource    TEXT    NOT NULL CHECK (char_length(resource) BETWEEN 1 AND 40),
    service     TEXT    CHECK (service IS NULL OR char_length(service) BETWEEN 1 AND 40),
    CHECK (end_at > start_at)
);
CREATE INDEX appointments_by_start_and_id ON appointments (start_at, id);

-- Canceling is final: no write may change a canceled appointment, whoever makes it.
CREATE FUNCTION canceled_appointments_are_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a canceled appointment cannot change';
END
$$;
CREATE TRIGGER canceled_appointments_are_final
BEFORE UPDATE ON appointments
FOR EACH ROW WHEN (OLD.status = 'canceled')
EXECUTE FUNCTION canceled_appointments_are_final();

-- Every slot an appointment takes on its resource, buffers included.
CREATE TABLE appointment_slots (
    appointment_id TEXT   NOT NULL REFERENCES appointments (id),
    start_at       BIGINT NOT NULL,
    PRIMARY KEY (appointment_id, start_at)
);

-- How many scheduled appointments take each slot of each resource. Every write that judges a
-- slot first locks its row here (creating it if needed), so writers of one slot take turns,
-- and raises the count with an update that itself refuses to pass the capacity.
CREATE TABLE occupancy (
    resource TEXT    NOT NULL,
    start_at BIGINT  NOT NULL,
    booked   INTEGER NOT NULL CHECK (booked >= 0),
    PRIMARY KEY (resource, start_at)
);
CREATE INDEX occupancy_by_start ON occupancy (start_at, resource, booked);

-- Holds count against capacity while expires_at is in the future.
CREATE TABLE holds (
    token      TEXT   PRIMARY KEY CHECK (char_length(token) = 32),
    resource   TEXT   NOT NULL,
    service    TEXT,
    start_at   BIGINT NOT NULL,
    end_at     BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    CHECK (end_at > start_at)
);

CREATE TABLE hold_slots (
    token      TEXT   NOT NULL REFERENCES holds (token) ON DELETE CASCADE,
    resource   TEXT   NOT NULL,
    start_at   BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (token, start_at)
);
CREATE INDEX hold_slots_by_slot ON hold_slots (resource, start_at, expires_at);
CREATE INDEX hold_slots_by_start ON hold_slots (start_at, expires_at, resource);

-- Periods in which a resource (or, with resource NULL, the whole business) takes no bookings.
CREATE TABLE closures (
    id         TEXT   PRIMARY KEY CHECK (char_length(id) = 36),
    resource   TEXT,
    start_at   BIGINT NOT NULL,
    end_at     BIGINT NOT NULL,
    reason     TEXT   CHECK (reason IS NULL OR char_length(reason) <= 500),
    created_at BIGINT NOT NULL,
    CHECK (end_at > start_at)
);
CREATE INDEX closures_by_start ON closures (start_at);

-- Answers to requests that carried an Idempotency-Key, written in the change's transaction.
CREATE TABLE idempotency_keys (
    key         TEXT    PRIMARY KEY CHECK (char_length(key) BETWEEN 1 AND 255),
    fingerprint TEXT    NOT NULL,
    status      INTEGER NOT NULL CHECK (status BETWEEN 200 AND 299),
    body        TEXT    NOT NULL,
    location    TEXT,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
