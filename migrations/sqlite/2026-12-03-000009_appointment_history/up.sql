-- Every change an appointment goes through, written by the write that makes it, in the same
-- transaction: who made it (`client`, `operator`, `system`), why, and the appointment's time
-- once it was made (`from_*`: the time a move left). Appointments booked before this migration
-- have no entries for what happened to them earlier.
CREATE TABLE appointment_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    appointment_id TEXT NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
    made_at BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('scheduled', 'rescheduled', 'canceled')),
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL CHECK (end_at > start_at),
    from_start_at BIGINT,
    from_end_at BIGINT,
    actor TEXT NOT NULL CHECK (actor IN ('client', 'operator', 'system')),
    reason TEXT CHECK (reason IS NULL OR length(reason) BETWEEN 1 AND 500),
    CHECK ((kind = 'rescheduled') = (from_start_at IS NOT NULL AND from_end_at IS NOT NULL))
);
CREATE INDEX appointment_history_by_appointment ON appointment_history (appointment_id, id);
