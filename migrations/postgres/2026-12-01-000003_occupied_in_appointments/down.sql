CREATE TABLE appointment_slots (
    appointment_id TEXT   NOT NULL REFERENCES appointments (id),
    start_at       BIGINT NOT NULL,
    PRIMARY KEY (appointment_id, start_at)
);
INSERT INTO appointment_slots (appointment_id, start_at)
SELECT id, unnest(string_to_array(occupied, ','))::bigint FROM appointments;
ALTER TABLE appointments DROP COLUMN occupied;
