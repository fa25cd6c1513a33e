-- Back to two statuses and three kinds of history entry: this fails, changing nothing, while
-- any appointment is completed or a no-show (the old CHECKs refuse them).
CREATE OR REPLACE FUNCTION queue_notifications() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Taken before the plan is read: a new plan (which takes SHARE ROW EXCLUSIVE) waits for
    -- this write, or this write waits for it and then reads it, so none is queued under a
    -- plan that was replaced before it committed.
    LOCK TABLE notifications IN ROW EXCLUSIVE MODE;
    IF NOT EXISTS (SELECT 1 FROM notification_plan) THEN
        RETURN NULL;
    END IF;
    -- The reminders of each appointment's previous time, but for one being sent right now: it
    -- holds this change's message back until it is settled, and the claim skips it after.
    DELETE FROM notifications n
    USING added a JOIN appointments p ON p.id = a.appointment_id AND p.email IS NOT NULL
    WHERE n.appointment_id = a.appointment_id AND n.kind = 'reminder' AND n.state = 'pending'
      AND (n.leased_until IS NULL OR n.leased_until <= a.made_at);
    -- Each entry's message, then its reminders, longest lead first; reminders only for an
    -- appointment's last entry of the statement.
    INSERT INTO notifications (appointment_id, entry_id, kind, remind_before, due_at,
                               next_attempt_at)
    SELECT q.appointment_id, q.entry_id, q.kind, q.remind_before, q.due_at, q.due_at
    FROM (
        SELECT a.appointment_id, a.id AS entry_id,
               CASE a.kind
                   WHEN 'scheduled' THEN 'confirmation'
                   WHEN 'rescheduled' THEN 'moved'
                   ELSE 'canceled'
               END AS kind,
               NULL::BIGINT AS remind_before, a.made_at AS due_at, 0 AS position
        FROM added a JOIN appointments p ON p.id = a.appointment_id AND p.email IS NOT NULL
        UNION ALL
        SELECT a.appointment_id, a.id, 'reminder', r.lead_seconds,
               a.start_at - r.lead_seconds, 1
        FROM added a JOIN appointments p ON p.id = a.appointment_id AND p.email IS NOT NULL
        CROSS JOIN notification_reminders r
        WHERE a.kind <> 'canceled' AND a.start_at - r.lead_seconds > a.made_at
          AND a.id = (SELECT max(b.id) FROM added b WHERE b.appointment_id = a.appointment_id)
    ) AS q
    ORDER BY q.entry_id, q.position, q.remind_before DESC;
    RETURN NULL;
END
$$;

DROP TRIGGER final_appointments_never_change ON appointments;
DROP FUNCTION final_appointments_never_change();
CREATE FUNCTION canceled_appointments_are_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a canceled appointment cannot change';
END
$$;
CREATE TRIGGER canceled_appointments_are_final
BEFORE UPDATE ON appointments
FOR EACH ROW WHEN (OLD.status = 'canceled')
EXECUTE FUNCTION canceled_appointments_are_final();

ALTER TABLE appointment_history DROP CONSTRAINT appointment_history_kind_check;
ALTER TABLE appointment_history ADD CONSTRAINT appointment_history_kind_check
    CHECK (kind IN ('scheduled', 'rescheduled', 'canceled'));
ALTER TABLE appointments DROP CONSTRAINT appointments_status_check;
ALTER TABLE appointments ADD CONSTRAINT appointments_status_check
    CHECK (status IN ('scheduled', 'canceled'));
