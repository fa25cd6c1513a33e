-- The outbox's triggers fire once per entry again, as before this migration.
DROP TRIGGER notifications_of_history ON appointment_history;
DROP FUNCTION queue_notifications();
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

DROP TRIGGER webhook_deliveries_of_history ON appointment_history;
DROP FUNCTION queue_webhook_deliveries();
CREATE FUNCTION queue_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (endpoint_id, entry_id, next_attempt_at)
    SELECT e.id, NEW.id, NEW.made_at FROM webhook_endpoints e
    WHERE e.events IS NULL
       OR ',' || e.events || ',' LIKE '%,appointment.' || NEW.kind || ',%'
    ORDER BY e.seq
    -- An endpoint being deleted meanwhile is waited for and then passed over, instead of
    -- getting a delivery whose foreign key fails the write.
    FOR KEY SHARE OF e;
    RETURN NULL;
END
$$;
CREATE TRIGGER webhook_deliveries_of_history AFTER INSERT ON appointment_history
    FOR EACH ROW EXECUTE FUNCTION queue_webhook_deliveries();

DROP FUNCTION find_appointments(TEXT[]);
DROP FUNCTION release_holds(TEXT[], BIGINT[]);
DROP FUNCTION take_holds(INTEGER[], INTEGER[], BOOLEAN[], TEXT[], INTEGER[], BIGINT[], BIGINT[],
                         TEXT[], TEXT[], TEXT[], BIGINT[], TEXT[], INTEGER[], BIGINT[]);
DROP FUNCTION move_appointments(TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], INTEGER[], BIGINT[],
                                BIGINT[], TEXT[], BOOLEAN[], BIGINT[], BIGINT[]);
DROP FUNCTION cancel_appointments(TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], BIGINT[], BIGINT[]);
DROP FUNCTION book_appointments(INTEGER[], INTEGER[], BOOLEAN[], TEXT[], INTEGER[], BIGINT[],
                                BIGINT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[],
                                TEXT[], TEXT[], TEXT[], TEXT[], BIGINT[], BIGINT[]);
DROP TYPE batch_answer;
DROP FUNCTION every_place_taken(BIGINT, BIGINT);
DROP FUNCTION lock_slots(TEXT[], TEXT[]);
DROP FUNCTION remembered(TEXT[], BIGINT[]);
DROP FUNCTION lock_names(TEXT[]);
DROP FUNCTION stored_refusal(TEXT, INTEGER, BIGINT, BIGINT, BIGINT[], BIGINT[], TEXT, BIGINT);
