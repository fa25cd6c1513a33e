-- An appointment that has started may be recorded as completed or a no-show; like a canceled
-- one, it is final. SQLite cannot change a CHECK in place, so `appointments` and
-- `appointment_history` are rebuilt (SQLite's own twelve-step procedure: the server runs
-- migrations with foreign keys off and checks them all before it commits), and the triggers on
-- them, or naming them, are made again.
DROP TRIGGER notifications_of_history;
DROP TRIGGER webhook_deliveries_of_history;
DROP TRIGGER canceled_appointments_are_final;
DROP TRIGGER appointments_occupy_slots;
DROP TRIGGER appointments_keep_occupying_slots;

CREATE TABLE appointments_new (
    id          TEXT    PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    client_name TEXT    NOT NULL CHECK (length(client_name) BETWEEN 1 AND 100),
    notes       TEXT    CHECK (notes IS NULL OR length(notes) BETWEEN 1 AND 1000),
    start_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL,
    status      TEXT    NOT NULL
        CHECK (status IN ('scheduled', 'canceled', 'completed', 'no_show')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    resource    TEXT    NOT NULL DEFAULT 'default' CHECK (length(resource) BETWEEN 1 AND 40),
    service     TEXT    CHECK (service IS NULL OR length(service) BETWEEN 1 AND 40),
    occupied    TEXT    NOT NULL DEFAULT '',
    email       TEXT    CHECK (email IS NULL OR length(email) BETWEEN 3 AND 254),
    phone       TEXT
        CHECK (phone IS NULL OR (substr(phone, 1, 1) = '+' AND length(phone) BETWEEN 8 AND 16)),
    CHECK (end_at > start_at)
) STRICT;
INSERT INTO appointments_new (id, client_name, notes, start_at, end_at, status, created_at,
                              updated_at, resource, service, occupied, email, phone)
SELECT id, client_name, notes, start_at, end_at, status, created_at, updated_at, resource,
       service, occupied, email, phone
FROM appointments;
DROP TABLE appointments;
ALTER TABLE appointments_new RENAME TO appointments;
CREATE INDEX appointments_by_start_and_id ON appointments (start_at, id);

CREATE TABLE appointment_history_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    appointment_id TEXT NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
    made_at BIGINT NOT NULL,
    kind TEXT NOT NULL
        CHECK (kind IN ('scheduled', 'rescheduled', 'canceled', 'completed', 'no_show')),
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL CHECK (end_at > start_at),
    from_start_at BIGINT,
    from_end_at BIGINT,
    actor TEXT NOT NULL CHECK (actor IN ('client', 'operator', 'system')),
    reason TEXT CHECK (reason IS NULL OR length(reason) BETWEEN 1 AND 500),
    CHECK ((kind = 'rescheduled') = (from_start_at IS NOT NULL AND from_end_at IS NOT NULL))
);
-- Entries are never numbered twice, even those of appointments deleted since: the new table
-- counts on from where the old one was.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'appointment_history_new', seq FROM sqlite_sequence WHERE name = 'appointment_history';
INSERT INTO appointment_history_new (id, appointment_id, made_at, kind, start_at, end_at,
                                     from_start_at, from_end_at, actor, reason)
SELECT id, appointment_id, made_at, kind, start_at, end_at, from_start_at, from_end_at, actor,
       reason
FROM appointment_history;
DROP TABLE appointment_history;
ALTER TABLE appointment_history_new RENAME TO appointment_history;
CREATE INDEX appointment_history_by_appointment ON appointment_history (appointment_id, id);

-- Canceled, completed and no-show appointments are final.
CREATE TRIGGER final_appointments_never_change
BEFORE UPDATE ON appointments
WHEN OLD.status <> 'scheduled'
BEGIN
    SELECT RAISE(ABORT, 'a canceled, completed or no-show appointment cannot change');
END;
CREATE TRIGGER appointments_occupy_slots
BEFORE INSERT ON appointments
WHEN NEW.occupied = ''
BEGIN
    SELECT RAISE(ABORT, 'an appointment takes at least one slot');
END;
CREATE TRIGGER appointments_keep_occupying_slots
BEFORE UPDATE OF occupied ON appointments
WHEN NEW.occupied = ''
BEGIN
    SELECT RAISE(ABORT, 'an appointment takes at least one slot');
END;

CREATE TRIGGER webhook_deliveries_of_history AFTER INSERT ON appointment_history
BEGIN
    INSERT INTO webhook_deliveries (endpoint_id, entry_id, next_attempt_at)
    SELECT e.id, NEW.id, NEW.made_at FROM webhook_endpoints e
    WHERE e.events IS NULL
       OR ',' || e.events || ',' LIKE '%,appointment.' || NEW.kind || ',%'
    ORDER BY e.seq;
END;

-- As before, but a conclusion tells the client nothing (they were there, or chose not to be),
-- and leaves reminders as they are: they were due before the start, so they are sent or
-- skipped by then.
CREATE TRIGGER notifications_of_history AFTER INSERT ON appointment_history
WHEN NEW.kind IN ('scheduled', 'rescheduled', 'canceled')
 AND EXISTS (SELECT 1 FROM notification_plan)
 AND (SELECT email FROM appointments WHERE id = NEW.appointment_id) IS NOT NULL
BEGIN
    -- The reminders of the appointment's previous time, but for one being sent right now:
    -- it holds this change's message back until it is settled, and the claim skips it after.
    DELETE FROM notifications
    WHERE appointment_id = NEW.appointment_id AND kind = 'reminder' AND state = 'pending'
      AND (leased_until IS NULL OR leased_until <= NEW.made_at);
    INSERT INTO notifications (appointment_id, entry_id, kind, due_at, next_attempt_at)
    VALUES (
        NEW.appointment_id, NEW.id,
        CASE NEW.kind
            WHEN 'scheduled' THEN 'confirmation'
            WHEN 'rescheduled' THEN 'moved'
            ELSE 'canceled'
        END,
        NEW.made_at, NEW.made_at
    );
    INSERT INTO notifications
        (appointment_id, entry_id, kind, remind_before, due_at, next_attempt_at)
    SELECT NEW.appointment_id, NEW.id, 'reminder', r.lead_seconds,
           NEW.start_at - r.lead_seconds, NEW.start_at - r.lead_seconds
    FROM notification_reminders r
    WHERE NEW.kind <> 'canceled' AND NEW.start_at - r.lead_seconds > NEW.made_at
    ORDER BY r.lead_seconds DESC;
END;
