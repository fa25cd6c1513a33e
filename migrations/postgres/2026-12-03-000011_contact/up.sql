-- The client's contact details, both optional: an email address and a phone number in E.164
-- (the server checks their syntax; the database their bounds). Idempotency records keep them
-- too, so that a replay answers the appointment as its write left it.
ALTER TABLE appointments ADD COLUMN email TEXT
    CHECK (email IS NULL OR char_length(email) BETWEEN 3 AND 254);
ALTER TABLE appointments ADD COLUMN phone TEXT
    CHECK (phone IS NULL OR (substr(phone, 1, 1) = '+' AND char_length(phone) BETWEEN 8 AND 16));
ALTER TABLE idempotency_records ADD COLUMN email TEXT;
ALTER TABLE idempotency_records ADD COLUMN phone TEXT;

-- The booking function writes them in its statement: a version with two more arguments. The
-- version with the previous arguments stays, as a call of the new one with none, for servers
-- of the previous version while an upgrade rolls (its bookings have no contact details, as
-- that version's never do).
CREATE FUNCTION book_first_free(
    resources TEXT[],
    capacities INTEGER[],
    starts_at BIGINT[],
    ends_at BIGINT[],
    occupied TEXT[],
    services TEXT[],
    new_id TEXT,
    new_client_name TEXT,
    new_notes TEXT,
    now_at BIGINT,
    used_hold TEXT,
    actor TEXT,
    new_email TEXT,
    new_phone TEXT
) RETURNS TABLE (admitted INTEGER, refused TEXT, reason TEXT, until_at BIGINT)
LANGUAGE plpgsql
-- Planned once per connection, not at every call (`= ANY (slots)` would otherwise be planned
-- for each array).
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    i INTEGER;
    slots BIGINT[];
    closure RECORD;
    taken BIGINT[];
    why TEXT;
    first_refused TEXT;
    first_reason TEXT;
    first_until BIGINT;
BEGIN
    -- Shared with every write that reads closures; adding or removing one takes it alone
    -- (namespace "bkng", object 1: the server's `dialect::lock_closures`).
    PERFORM pg_advisory_xact_lock_shared(1651207783, 1);
    IF used_hold IS NOT NULL THEN
        PERFORM 1 FROM holds h WHERE h.token = used_hold FOR UPDATE;
        IF NOT FOUND THEN
            RETURN QUERY SELECT NULL::INTEGER, 'gone'::TEXT, NULL::TEXT, NULL::BIGINT;
            RETURN;
        END IF;
    END IF;
    FOR i IN 1 .. coalesce(array_length(resources, 1), 0) LOOP
        slots := string_to_array(occupied[i], ',')::BIGINT[];
        why := NULL;
        -- The first closure by start (then id), as the shared path lists them, and whether a
        -- slot is full by committed data: either refuses before any row is touched.
        SELECT c.id, c.reason, c.end_at, EXISTS (
                   SELECT 1 FROM occupancy o
                   WHERE o.resource = resources[i] AND o.start_at = ANY (slots)
                     AND o.booked >= capacities[i]
               ) AS full_now
        INTO closure
        FROM (VALUES (1)) AS one
        LEFT JOIN LATERAL (
            SELECT c.id, c.reason, c.end_at FROM closures c
            WHERE c.start_at < ends_at[i] AND c.end_at > starts_at[i]
              AND (c.resource IS NULL OR c.resource = resources[i])
            ORDER BY c.start_at, c.id
            LIMIT 1
        ) AS c ON true;
        IF closure.id IS NOT NULL THEN
            why := 'closed';
        ELSIF closure.full_now THEN
            why := 'full';
        ELSE
            -- Rows in time order, so locks are taken in that order; the guard never lets a
            -- count pass the capacity, whoever else writes.
            WITH took AS (
                INSERT INTO occupancy AS o (resource, start_at, booked)
                SELECT resources[i], s, 1 FROM unnest(slots) AS s ORDER BY s
                ON CONFLICT (resource, start_at)
                DO UPDATE SET booked = o.booked + 1 WHERE o.booked < capacities[i]
                RETURNING o.start_at
            )
            SELECT coalesce(array_agg(start_at), '{}') INTO taken FROM took;
            IF cardinality(taken) < cardinality(slots) THEN
                why := 'full';
            ELSE
                -- Held: a slot whose bookings (this one counted) and active holds (but the
                -- one converted) pass the capacity. Otherwise the appointment is written in the
                -- same statement.
                INSERT INTO appointments (id, client_name, notes, start_at, end_at, status,
                                          created_at, updated_at, resource, service, occupied,
                                          email, phone)
                SELECT new_id, new_client_name, new_notes, starts_at[i], ends_at[i], 'scheduled',
                       now_at, now_at, resources[i], services[i], occupied[i], new_email,
                       new_phone
                WHERE NOT EXISTS (
                    SELECT 1 FROM occupancy o
                    WHERE o.resource = resources[i] AND o.start_at = ANY (slots)
                      AND o.booked + (
                          SELECT count(*) FROM hold_slots h
                          WHERE h.resource = o.resource AND h.start_at = o.start_at
                            AND h.expires_at > now_at AND h.token IS DISTINCT FROM used_hold
                      ) > capacities[i]
                );
                IF FOUND THEN
                    INSERT INTO appointment_history (appointment_id, made_at, kind, start_at,
                                                     end_at, actor)
                    VALUES (new_id, now_at, 'scheduled', starts_at[i], ends_at[i], actor);
                    IF used_hold IS NOT NULL THEN
                        -- Its places are the appointment's now (its slots go by the cascade).
                        DELETE FROM holds h WHERE h.token = used_hold;
                    END IF;
                    RETURN QUERY SELECT i, NULL::TEXT, NULL::TEXT, NULL::BIGINT;
                    RETURN;
                END IF;
                why := 'held';
            END IF;
            IF cardinality(taken) > 0 THEN
                UPDATE occupancy SET booked = booked - 1
                WHERE resource = resources[i] AND start_at = ANY (taken);
            END IF;
        END IF;
        IF first_refused IS NULL THEN
            first_refused := why;
            first_reason := CASE WHEN why = 'closed' THEN closure.reason END;
            first_until := CASE WHEN why = 'closed' THEN closure.end_at END;
        END IF;
    END LOOP;
    RETURN QUERY SELECT NULL::INTEGER, first_refused, first_reason, first_until;
END
$$;

CREATE OR REPLACE FUNCTION book_first_free(
    resources TEXT[],
    capacities INTEGER[],
    starts_at BIGINT[],
    ends_at BIGINT[],
    occupied TEXT[],
    services TEXT[],
    new_id TEXT,
    new_client_name TEXT,
    new_notes TEXT,
    now_at BIGINT,
    used_hold TEXT,
    actor TEXT
) RETURNS TABLE (admitted INTEGER, refused TEXT, reason TEXT, until_at BIGINT)
LANGUAGE sql
AS $$
    SELECT * FROM book_first_free($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, NULL)
$$;

-- The cancel function answers the row it locked, read into a variable of the table's row type;
-- replacing it (unchanged) makes every session compile it again, with the new columns, instead
-- of keeping the row type it knew. The server reads the contact details beside its answer.
CREATE OR REPLACE FUNCTION cancel_appointment(target TEXT, now_at BIGINT, actor TEXT, reason TEXT)
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
    INSERT INTO appointment_history (appointment_id, made_at, kind, start_at, end_at, actor,
                                     reason)
    VALUES (target, now_at, 'canceled', found_row.start_at, found_row.end_at, actor, reason);
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
