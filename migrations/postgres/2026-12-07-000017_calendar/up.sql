-- The business's calendar, kept beside the appointments so that every change to it is checked
-- against them in the transaction that stores it, and every booking against it (the version
-- the booking was placed under must be the stored one). One row of `calendar` once a calendar
-- is stored: its version counts the changes. Lengths and buffers are counted in slots of the
-- stored slot length; hours are written as the settings write them.
CREATE TABLE calendar (
    id           BIGINT PRIMARY KEY CHECK (id = 1),
    version      BIGINT  NOT NULL CHECK (version >= 1),
    time_zone    TEXT    NOT NULL CHECK (length(time_zone) BETWEEN 1 AND 64),
    slot_minutes BIGINT  NOT NULL CHECK (slot_minutes BETWEEN 1 AND 1440),
    changed_at   BIGINT  NOT NULL
);

CREATE TABLE calendar_resources (
    slug     TEXT    PRIMARY KEY NOT NULL CHECK (length(slug) BETWEEN 1 AND 40),
    position BIGINT  NOT NULL UNIQUE,
    name     TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 400),
    hours    TEXT    NOT NULL CHECK (length(hours) BETWEEN 1 AND 1000),
    capacity BIGINT  NOT NULL CHECK (capacity BETWEEN 1 AND 10000)
);

CREATE TABLE calendar_services (
    slug               TEXT    PRIMARY KEY NOT NULL CHECK (length(slug) BETWEEN 1 AND 40),
    position           BIGINT  NOT NULL UNIQUE,
    name               TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 400),
    slots              BIGINT  NOT NULL CHECK (slots BETWEEN 1 AND 65535),
    buffer_before      BIGINT  NOT NULL CHECK (buffer_before BETWEEN 0 AND 65535),
    buffer_after       BIGINT  NOT NULL CHECK (buffer_after BETWEEN 0 AND 65535),
    min_notice_minutes BIGINT  CHECK (min_notice_minutes >= 0),
    horizon_minutes    BIGINT  CHECK (horizon_minutes >= 0)
);

-- The resources that perform each service, in the order they are chosen from.
CREATE TABLE calendar_performers (
    service  TEXT    NOT NULL REFERENCES calendar_services (slug) ON DELETE CASCADE,
    resource TEXT    NOT NULL REFERENCES calendar_resources (slug),
    position BIGINT  NOT NULL,
    PRIMARY KEY (service, resource),
    UNIQUE (service, position)
);

-- A date whose hours replace its weekday's for one resource ('closed': none that day).
CREATE TABLE calendar_overrides (
    resource TEXT NOT NULL REFERENCES calendar_resources (slug) ON DELETE CASCADE,
    date     TEXT NOT NULL CHECK (date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
    hours    TEXT NOT NULL CHECK (length(hours) BETWEEN 1 AND 1000),
    PRIMARY KEY (resource, date)
);

-- Every booking, move and hold is placed by a server under one version of the calendar; the
-- batch functions below take its writes only while that version is the stored one. Each
-- takes the calendar lock shared before anything else (a calendar change takes it alone, so
-- it waits for the batches under way, and they for it), then answers `calendar-changed` for
-- every write of the batch if one of them was placed under another version (0: none stored):
-- the server that placed it has not yet heard of the change, and the client sends it again.
-- The functions without `gated_` stay for servers of the version before, during an upgrade.
CREATE FUNCTION calendar_changed(o_calendar BIGINT[]) RETURNS SETOF batch_answer
LANGUAGE plpgsql
AS $$
DECLARE
    stored BIGINT;
    answer batch_answer;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1651207783, 3);
    SELECT version INTO stored FROM calendar WHERE id = 1;
    IF EXISTS (
        SELECT 1 FROM unnest(o_calendar) AS placed WHERE placed IS DISTINCT FROM COALESCE(stored, 0)
    ) THEN
        FOR i IN 1 .. cardinality(o_calendar) LOOP
            answer.op := i;
            answer.answer := 'calendar-changed';
            RETURN NEXT answer;
        END LOOP;
    END IF;
END
$$;

CREATE FUNCTION gated_book_appointments(
    c_op INTEGER[],
    c_rank INTEGER[],
    c_timely BOOLEAN[],
    c_resource TEXT[],
    c_capacity INTEGER[],
    c_start BIGINT[],
    c_end BIGINT[],
    c_occupied TEXT[],
    c_service TEXT[],
    o_id TEXT[],
    o_client_name TEXT[],
    o_notes TEXT[],
    o_email TEXT[],
    o_phone TEXT[],
    o_actor TEXT[],
    o_hold TEXT[],
    o_key TEXT[],
    o_fingerprint TEXT[],
    o_now BIGINT[],
    o_key_since BIGINT[],
    o_calendar BIGINT[]
) RETURNS SETOF batch_answer
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN QUERY SELECT * FROM calendar_changed(o_calendar);
    IF NOT FOUND THEN
        RETURN QUERY SELECT * FROM book_appointments(c_op, c_rank, c_timely, c_resource, c_capacity, c_start, c_end, c_occupied, c_service, o_id, o_client_name, o_notes, o_email, o_phone, o_actor, o_hold, o_key, o_fingerprint, o_now, o_key_since);
    END IF;
END
$$;

CREATE FUNCTION gated_move_appointments(
    o_id TEXT[],
    o_actor TEXT[],
    o_key TEXT[],
    o_fingerprint TEXT[],
    t_resource TEXT[],
    t_service TEXT[],
    t_capacity INTEGER[],
    t_start BIGINT[],
    t_end BIGINT[],
    t_occupied TEXT[],
    t_timely BOOLEAN[],
    o_now BIGINT[],
    o_notice BIGINT[],
    o_key_since BIGINT[],
    o_calendar BIGINT[]
) RETURNS SETOF batch_answer
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN QUERY SELECT * FROM calendar_changed(o_calendar);
    IF NOT FOUND THEN
        RETURN QUERY SELECT * FROM move_appointments(o_id, o_actor, o_key, o_fingerprint, t_resource, t_service, t_capacity, t_start, t_end, t_occupied, t_timely, o_now, o_notice, o_key_since);
    END IF;
END
$$;

CREATE FUNCTION gated_take_holds(
    c_op INTEGER[],
    c_rank INTEGER[],
    c_timely BOOLEAN[],
    c_resource TEXT[],
    c_capacity INTEGER[],
    c_start BIGINT[],
    c_end BIGINT[],
    c_occupied TEXT[],
    c_service TEXT[],
    o_token TEXT[],
    o_expires_at BIGINT[],
    o_holder TEXT[],
    o_most INTEGER[],
    o_now BIGINT[],
    o_calendar BIGINT[]
) RETURNS SETOF batch_answer
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN QUERY SELECT * FROM calendar_changed(o_calendar);
    IF NOT FOUND THEN
        RETURN QUERY SELECT * FROM take_holds(c_op, c_rank, c_timely, c_resource, c_capacity, c_start, c_end, c_occupied, c_service, o_token, o_expires_at, o_holder, o_most, o_now);
    END IF;
END
$$;
