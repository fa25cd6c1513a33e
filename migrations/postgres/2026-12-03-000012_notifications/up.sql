-- Notifications to clients (confirmation, move, cancel, reminders), queued in the outbox as
-- webhook deliveries are: a trigger on the history queues them in the transaction that records
-- the entry, so there is no message for a change that rolled back and no change without one.
--
-- The plan a server puts in force as it starts: a row while mail is on, and the reminders'
-- lead times.
CREATE TABLE notification_plan (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    planned_at BIGINT NOT NULL
);
CREATE TABLE notification_reminders (
    lead_seconds BIGINT PRIMARY KEY CHECK (lead_seconds > 0)
);

-- One message for one appointment's client. Pending until the mail server takes it (sent), the
-- retries run out or it is refused for good (failed), or, for a reminder, its appointment
-- starts first (skipped). Reminders are due `remind_before` seconds before the time the entry
-- gave; the others when the change was made.
CREATE TABLE notifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appointment_id TEXT NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
    entry_id BIGINT NOT NULL REFERENCES appointment_history (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('confirmation', 'moved', 'canceled', 'reminder')),
    remind_before BIGINT CHECK (remind_before IS NULL OR remind_before > 0),
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    due_at BIGINT NOT NULL,
    next_attempt_at BIGINT,
    leased_until BIGINT,
    last_error TEXT,
    settled_at BIGINT,
    CHECK ((kind = 'reminder') = (remind_before IS NOT NULL)),
    CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL)),
    CHECK ((state = 'pending') = (settled_at IS NULL))
);
-- One reminder per change and lead time, whatever plans come and go: never sent twice.
CREATE UNIQUE INDEX notifications_one_reminder ON notifications (entry_id, remind_before)
    WHERE kind = 'reminder';
CREATE INDEX notifications_by_appointment ON notifications (appointment_id, id)
    WHERE state = 'pending';
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notifications_settled ON notifications (settled_at) WHERE settled_at IS NOT NULL;

CREATE FUNCTION queue_notifications() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Taken before the plan is read: a new plan (which takes SHARE ROW EXCLUSIVE) waits for
    -- this write, or this write waits for it and then reads it, so none is queued under a
    -- plan that was replaced before it committed.
    LOCK TABLE notifications IN ROW EXCLUSIVE MODE;
    IF NOT EXISTS (SELECT 1 FROM notification_plan)
       OR (SELECT email FROM appointments WHERE id = NEW.appointment_id) IS NULL THEN
        RETURN NULL;
    END IF;
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
    RETURN NULL;
END
$$;

CREATE TRIGGER notifications_of_history AFTER INSERT ON appointment_history
    FOR EACH ROW EXECUTE FUNCTION queue_notifications();
