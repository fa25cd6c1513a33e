DROP INDEX closures_by_start;
DROP TABLE closures;
DROP INDEX hold_slots_by_slot;
DROP TABLE hold_slots;
DROP TABLE holds;

CREATE TABLE slot_usage (
    start_at INTEGER PRIMARY KEY NOT NULL,
    booked   INTEGER NOT NULL CHECK (booked >= 0)
) STRICT;
-- Only the single resource of the earlier version survives a downgrade.
INSERT INTO slot_usage (start_at, booked) SELECT start_at, booked FROM occupancy WHERE resource = 'default';
DROP TABLE occupancy;
DROP TABLE appointment_slots;

DROP INDEX appointments_by_start_and_id;
CREATE INDEX appointments_by_start ON appointments (start_at);
ALTER TABLE appointments DROP COLUMN service;
ALTER TABLE appointments DROP COLUMN resource;
