-- The starts of the slots an appointment takes (buffers included; whole seconds,
-- comma-separated, in order) live in its own row. A booking then writes one row instead of one
-- more per slot in a table keyed by the random appointment id, where every booking dirtied a
-- page of its own.
ALTER TABLE appointments ADD COLUMN occupied TEXT NOT NULL DEFAULT '';

-- Canceled appointments are final, and this fills in a column they did not have.
DROP TRIGGER canceled_appointments_are_final;
UPDATE appointments SET occupied = coalesce(
    (SELECT group_concat(start_at, ',' ORDER BY start_at) FROM appointment_slots
     WHERE appointment_id = appointments.id),
    CAST(start_at AS TEXT)
);
CREATE TRIGGER canceled_appointments_are_final
BEFORE UPDATE ON appointments
WHEN OLD.status = 'canceled'
BEGIN
    SELECT RAISE(ABORT, 'a canceled appointment cannot change');
END;

DROP TABLE appointment_slots;

-- Every appointment takes at least one slot (a column added to a table cannot carry the
-- CHECK that says so, so triggers do).
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
