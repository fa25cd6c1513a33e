-- `book_first_free` (see 2026-12-02-000006) with fewer statements per booking: each one is
-- an executor start and end inside the function, and they were most of its cost (measured
-- with pgbench calling the function alone; docs/performance.md). Same arguments and answers,
-- and one more of each (the hold to convert, below; `gone`), same lock order (closures lock
-- shared, the hold's row, then a candidate's slot rows by time).
--
-- A candidate is first judged on committed data in one read: its first closure, and whether a
-- slot is already full (refused at once, without a lock: a crowd racing for one slot does not
-- queue behind the winner once it has committed). Then it takes its places before
-- judging the rest: one upsert creates, locks and counts up each slot row that has room (a row
-- with no room is locked all the same, and not changed), so under the locks the next
-- statement sees every hold and booking that committed before, and writes the appointment
-- unless a hold stands in the way. A candidate refused after taking places gives them back
-- before the next is tried: a refusal leaves every count as it found it.
--
-- And it converts a hold: given `used_hold`, the hold's token, it locks the hold's row first
-- (`gone` if another request converted or released it meanwhile), judges the candidate with
-- the hold's own places not counted against it, and deletes the hold only when the booking is
-- written. A refused conversion leaves the hold's row untouched, so a release or another
-- conversion waiting for its lock finds it, as after the shared path's rollback.
DROP FUNCTION book_first_free;
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
    used_hold TEXT
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
                                          created_at, updated_at, resource, service, occupied)
                SELECT new_id, new_client_name, new_notes, starts_at[i], ends_at[i], 'scheduled',
                       now_at, now_at, resources[i], services[i], occupied[i]
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
