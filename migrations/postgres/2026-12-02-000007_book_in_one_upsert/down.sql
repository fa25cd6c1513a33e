-- Back to 2026-12-02-000006's book_first_free.
DROP FUNCTION book_first_free;
-- A booking (without a hold or an idempotency key) in one statement, and so in one round trip:
-- the same steps as the shared SQL's transaction (`sql/repository.rs`, `book`), in the same
-- lock order, judged as the core's `Admission::check` judges once the times are known good.
-- The server checks the times (notice, horizon, past) itself, passes only candidates whose
-- times are good, and builds each candidate's appointment row; this takes the first candidate
-- that is free and answers which, or why the first was refused. (The server announces the
-- change to the others after the commit, as for every write.)
--
-- Arrays hold one element per candidate, in order of preference; `occupied` is the starts of
-- a candidate's slots as `appointments.occupied` stores them (seconds, comma-separated).
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
    now_at BIGINT
) RETURNS TABLE (admitted INTEGER, refused TEXT, reason TEXT, until_at BIGINT)
LANGUAGE plpgsql
-- The statements below are planned once per connection, not at every call: for `= ANY (slots)`
-- PostgreSQL would otherwise keep choosing a plan for the very array, a planning per statement
-- per booking (measured: 1.8k calls/s from 8 clients without this, 2.3k with it).
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    i INTEGER;
    slots BIGINT[];
    closure RECORD;
    full_now BOOLEAN;
    why TEXT;
    taken INTEGER;
    first_refused TEXT;
    first_reason TEXT;
    first_until BIGINT;
BEGIN
    -- Shared with every write that reads closures; adding or removing one takes it alone
    -- (namespace "bkng", object 1: the server's `dialect::lock_closures`).
    PERFORM pg_advisory_xact_lock_shared(1651207783, 1);
    FOR i IN 1 .. coalesce(array_length(resources, 1), 0) LOOP
        slots := string_to_array(occupied[i], ',')::BIGINT[];
        -- A slot full by committed data is refused at once, as it would be after waiting for
        -- its lock (a closure first, as always): a crowd racing for one slot does not queue
        -- behind the winner. Nothing is written unless the slots were locked and judged below.
        full_now := EXISTS (
            SELECT 1 FROM occupancy o
            WHERE o.resource = resources[i] AND o.start_at = ANY (slots)
              AND o.booked >= capacities[i]
        );
        IF NOT full_now THEN
            INSERT INTO occupancy (resource, start_at, booked)
            SELECT resources[i], s, 0 FROM unnest(slots) AS s ORDER BY s
            ON CONFLICT (resource, start_at) DO NOTHING;
            PERFORM 1 FROM occupancy o
            WHERE o.resource = resources[i] AND o.start_at = ANY (slots)
            ORDER BY o.start_at FOR UPDATE;
        END IF;
        why := NULL;
        -- The first closure by start (then id), as the shared path lists them.
        SELECT c.reason, c.end_at INTO closure FROM closures c
        WHERE c.start_at < ends_at[i] AND c.end_at > starts_at[i]
          AND (c.resource IS NULL OR c.resource = resources[i])
        ORDER BY c.start_at, c.id
        LIMIT 1;
        IF FOUND THEN
            why := 'closed';
        ELSIF full_now OR EXISTS (
            SELECT 1 FROM occupancy o
            WHERE o.resource = resources[i] AND o.start_at = ANY (slots)
              AND o.booked >= capacities[i]
        ) THEN
            why := 'full';
        ELSIF EXISTS (
            SELECT 1 FROM unnest(slots) AS s
            LEFT JOIN occupancy o ON o.resource = resources[i] AND o.start_at = s
            WHERE coalesce(o.booked, 0) + (
                SELECT count(*) FROM hold_slots h
                WHERE h.resource = resources[i] AND h.start_at = s AND h.expires_at > now_at
            ) >= capacities[i]
        ) THEN
            why := 'held';
        END IF;
        IF why IS NULL THEN
            UPDATE occupancy SET booked = booked + 1
            WHERE resource = resources[i] AND start_at = ANY (slots) AND booked < capacities[i];
            GET DIAGNOSTICS taken = ROW_COUNT;
            IF taken <> cardinality(slots) THEN
                -- Cannot happen with the rows locked and judged above; never pass capacity.
                RAISE EXCEPTION 'booking: a slot of % filled while locked', resources[i];
            END IF;
            INSERT INTO appointments (id, client_name, notes, start_at, end_at, status,
                                      created_at, updated_at, resource, service, occupied)
            VALUES (new_id, new_client_name, new_notes, starts_at[i], ends_at[i], 'scheduled',
                    now_at, now_at, resources[i], services[i], occupied[i]);
            RETURN QUERY SELECT i, NULL::TEXT, NULL::TEXT, NULL::BIGINT;
            RETURN;
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
