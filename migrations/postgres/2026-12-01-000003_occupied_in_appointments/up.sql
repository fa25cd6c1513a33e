-- The starts of the slots an appointment takes (buffers included; whole seconds,
-- comma-separated, in order) live in its own row. A booking then writes one row instead of one
-- more per slot in a table keyed by the random appointment id.
ALTER TABLE appointments ADD COLUMN occupied TEXT NOT NULL DEFAULT '';

-- Canceled appointments are final, and this fills in a column they did not have.
ALTER TABLE appointments DISABLE TRIGGER canceled_appointments_are_final;
UPDATE appointments SET occupied = coalesce(
    (SELECT string_agg(start_at::text, ',' ORDER BY start_at) FROM appointment_slots
     WHERE appointment_id = appointments.id),
    start_at::text
);
ALTER TABLE appointments ENABLE TRIGGER canceled_appointments_are_final;
ALTER TABLE appointments ALTER COLUMN occupied DROP DEFAULT;
ALTER TABLE appointments ADD CONSTRAINT appointments_occupy_slots CHECK (occupied <> '');

DROP TABLE appointment_slots;
