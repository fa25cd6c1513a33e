-- A cancel (without an idempotency key) in one statement, and so in one round trip: the
-- shared SQL's transaction (`sql/repository.rs`, `cancel`) with the same locks in the same
-- order, the appointment's row, then its slot rows by time.
--
-- Answers the appointment as it was when its row was locked (no row: no such appointment) and
-- whether this canceled it: it does when the appointment is scheduled and has not started at
-- `now_at`, as the core's `Appointment::cancel` rules; the server judges the row it gets back
-- with that rule and answers the refusal, or the canceled appointment. (The contract suite
-- holds the two rules to the same answers.)
CREATE FUNCTION cancel_appointment(target TEXT, now_at BIGINT)
RETURNS TABLE (
    id TEXT, client_name TEXT, notes TEXT, start_at BIGINT, end_at BIGINT, status TEXT,
    created_at BIGINT, updated_at BIGINT, resource TEXT, service TEXT, occupied TEXT,
    canceled BOOLEAN
)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    found_row appointments%ROWTYPE;
    slots BIGINT[];
BEGIN
    SELECT * INTO found_row FROM appointments a WHERE a.id = target FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF found_row.status <> 'scheduled' OR found_row.start_at <= now_at THEN
        RETURN QUERY SELECT found_row.id, found_row.client_name, found_row.notes,
            found_row.start_at, found_row.end_at, found_row.status, found_row.created_at,
            found_row.updated_at, found_row.resource, found_row.service, found_row.occupied,
            false;
        RETURN;
    END IF;
    UPDATE appointments a SET status = 'canceled', updated_at = now_at WHERE a.id = target;
    slots := string_to_array(found_row.occupied, ',')::BIGINT[];
    PERFORM 1 FROM occupancy o
    WHERE o.resource = found_row.resource AND o.start_at = ANY (slots)
    ORDER BY o.start_at FOR UPDATE;
    UPDATE occupancy o SET booked = o.booked - 1
    WHERE o.resource = found_row.resource AND o.start_at = ANY (slots);
    RETURN QUERY SELECT found_row.id, found_row.client_name, found_row.notes,
        found_row.start_at, found_row.end_at, found_row.status, found_row.created_at,
        found_row.updated_at, found_row.resource, found_row.service, found_row.occupied,
        true;
END
$$;
