DROP TRIGGER appointments_keep_occupying_slots;
DROP TRIGGER appointments_occupy_slots;
CREATE TABLE appointment_slots (
    appointment_id TEXT    NOT NULL REFERENCES appointments (id),
    start_at       INTEGER NOT NULL,
    PRIMARY KEY (appointment_id, start_at)
) STRICT, WITHOUT ROWID;
INSERT INTO appointment_slots (appointment_id, start_at)
SELECT appointments.id, CAST(starts.value AS INTEGER)
FROM appointments, json_each('[' || appointments.occupied || ']') AS starts;
ALTER TABLE appointments DROP COLUMN occupied;
