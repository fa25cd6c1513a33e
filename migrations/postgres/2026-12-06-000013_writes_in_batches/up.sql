-- Client writes in batches: each server's writer sends the bookings (or cancels, moves, holds,
-- releases) that have queued as one call of one function, which decides and writes them all
-- with a few set-wise statements in one transaction. One round trip, one commit and one set of
-- executor starts serve the whole batch, where each write used to pay for its own.
--
-- Every function takes its locks before it reads what it decides on, in the one order every
-- write follows: idempotency keys and holders (advisory, by hash), the closures lock (shared),
-- holds (by token), appointments (by id), then slot rows (by resource, then start), each kind in
-- one statement in sorted order. Two batches, on one server or two, never wait on each other in
-- a circle.
--
-- The writes of one batch are independent: of two that would touch one slot, appointment, hold,
-- key or holder, only the first is decided; the later one is answered `again`, and the server
-- puts it in its next batch. So every write of a batch is decided on the state before the
-- batch, and the batch is the same as its refused writes, then its others, in any order.
--
-- Each function's statements are planned once per connection, for arrays of any length
-- (`force_generic_plan`), and find every row they read or lock by its key: a plan made while a
-- table was small must not scan it, or hash it whole, once it has grown (which cached plans
-- otherwise do, until the table is next analyzed). So they plan without sequential scans, hash
-- or merge joins where an index serves, and never compile their expressions (`jit`): the
-- penalties those settings add to the costs would otherwise pass JIT's threshold.
--
-- Times (past, notice, horizon) depend on nothing stored: the server judges them and says, per
-- candidate, whether it is `timely`. What depends on the database is judged here as the core's
-- `Admission::check` judges it (closures, then full, then held), by `stored_refusal`; the
-- contract suite and the property tests hold the two to the same answers.

-- Why a place (a candidate's slots on one resource) cannot be taken now, by what is stored:
-- `closed` (with the first closure's reason and end, by start then id), `full` or `held`; NULL
-- when it can. `own_slots` are places the writer has already on this resource (a move's current
-- ones), which do not count against it; holds count while active at `now_at`, but for
-- `own_hold`, the one being converted. Inlined into the statement that calls it.
CREATE FUNCTION stored_refusal(
    place_resource TEXT,
    place_capacity INTEGER,
    place_start BIGINT,
    place_end BIGINT,
    place_slots BIGINT[],
    own_slots BIGINT[],
    own_hold TEXT,
    now_at BIGINT
) RETURNS TABLE (why TEXT, reason TEXT, until_at BIGINT)
LANGUAGE sql STABLE
AS $$
    SELECT CASE
               WHEN closure.end_at IS NOT NULL THEN 'closed'
               WHEN usage.full THEN 'full'
               WHEN usage.held THEN 'held'
           END,
           closure.reason,
           closure.end_at
    FROM (
        SELECT coalesce(bool_or(u.booked >= place_capacity), false) AS full,
               coalesce(bool_or(u.booked + u.held >= place_capacity), false) AS held
        FROM (
            -- Each slot's row by its key, whatever the table's size when the plan was made.
            SELECT coalesce((SELECT o.booked FROM occupancy o
                             WHERE o.resource = place_resource AND o.start_at = s.start_at), 0)
                       - (s.start_at = ANY (coalesce(own_slots, '{}')))::INTEGER AS booked,
                   (SELECT count(*) FROM hold_slots h
                    WHERE h.resource = place_resource AND h.start_at = s.start_at
                      AND h.expires_at > now_at AND h.token IS DISTINCT FROM own_hold) AS held
            FROM unnest(place_slots) AS s(start_at)
        ) AS u
    ) AS usage
    LEFT JOIN LATERAL (
        SELECT c.reason, c.end_at FROM closures c
        WHERE c.start_at < place_end AND c.end_at > place_start
          AND (c.resource IS NULL OR c.resource = place_resource)
        ORDER BY c.start_at, c.id
        LIMIT 1
    ) AS closure ON true
$$;

-- Takes the advisory locks of `names` (idempotency keys, or holders as 'holder NAME'), by hash
-- in ascending order, as the server's `dialect::lock_key` takes one.
CREATE FUNCTION lock_names(names TEXT[]) RETURNS VOID
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(n.hash) FROM (
        SELECT DISTINCT hashtextextended(name, 0) AS hash
        FROM unnest(names) AS name WHERE name IS NOT NULL
        ORDER BY 1
    ) AS n;
END
$$;

-- The idempotency records of `keys`, the keys locked first, after forgetting those made at or
-- before the `since` beside each (past their lifetime: a key's own expired record is forgotten
-- by its next use, the others by the sweep).
CREATE FUNCTION remembered(keys TEXT[], since BIGINT[]) RETURNS SETOF idempotency_records
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM unnest(keys) AS k WHERE k IS NOT NULL) THEN
        RETURN;
    END IF;
    PERFORM lock_names(keys);
    DELETE FROM idempotency_records r
    USING unnest(keys, since) AS k(key, since)
    WHERE r.key = k.key AND r.created_at <= k.since;
    RETURN QUERY SELECT * FROM idempotency_records r WHERE r.key = ANY (keys);
END
$$;

-- Creates the slot rows of `resources[i]` at each start in `occupied[i]` (seconds,
-- comma-separated) that do not exist yet, then locks them all, by resource and start.
CREATE FUNCTION lock_slots(resources TEXT[], occupied TEXT[]) RETURNS VOID
LANGUAGE plpgsql
AS $$
BEGIN
    IF cardinality(resources) = 0 THEN
        RETURN;
    END IF;
    -- A row another writer inserted and has not committed yet makes this wait for it.
    INSERT INTO occupancy (resource, start_at, booked)
    SELECT DISTINCT p.resource, s.start_at, 0
    FROM unnest(resources, occupied) AS p(resource, occupied),
         unnest(string_to_array(p.occupied, ',')::BIGINT[]) AS s(start_at)
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    PERFORM 1 FROM occupancy o
    WHERE (o.resource, o.start_at) IN (
        SELECT p.resource, s.start_at
        FROM unnest(resources, occupied) AS p(resource, occupied),
             unnest(string_to_array(p.occupied, ',')::BIGINT[]) AS s(start_at))
    ORDER BY o.resource, o.start_at
    FOR UPDATE;
END
$$;

-- Fails the statement when not every place a batch decided to take was taken: with the rows
-- locked this cannot happen, and a write never stands without its places.
CREATE FUNCTION every_place_taken(wanted BIGINT, taken BIGINT) RETURNS BOOLEAN
LANGUAGE plpgsql
AS $$
BEGIN
    IF wanted <> taken THEN
        RAISE EXCEPTION 'a place judged free could not be taken (% of %)', taken, wanted;
    END IF;
    RETURN true;
END
$$;

-- What the batch functions answer for each write: its number in the batch (from 1), the answer
-- (the function's comment lists them), the candidate it is about, a closure's reason and end (or
-- when a holder's first hold ends); and a row as the write found it (an appointment, locked; a
-- hold, before it went: its token as `id`) or as its key remembered it (`key_*` and the
-- appointment's columns).
CREATE TYPE batch_answer AS (
    op INTEGER,
    answer TEXT,
    rank INTEGER,
    reason TEXT,
    until_at BIGINT,
    key_operation TEXT,
    key_fingerprint TEXT,
    key_created_at BIGINT,
    id TEXT,
    client_name TEXT,
    notes TEXT,
    resource TEXT,
    service TEXT,
    start_at BIGINT,
    end_at BIGINT,
    occupied TEXT,
    status TEXT,
    created_at BIGINT,
    updated_at BIGINT,
    email TEXT,
    phone TEXT,
    expires_at BIGINT
);

-- Books a batch. Per booking (`o_*`): the new appointment's id and fields, who books, the hold
-- it converts, its idempotency key with the request's fingerprint, when it is made, and when the
-- oldest record its key may replay was made. Per candidate (`c_*`, each booking's in its order
-- of preference): the booking's number, the candidate's number in its list, whether its time is
-- bookable now, and the place.
--
-- Each booking's judged candidates (its hold's, or else its timely ones) are tried in rounds, the
-- first of every booking in the first round, and so on. A round refuses the closed ones and those
-- full already, takes a place in every slot of the others (creating the slot's row with its
-- first booking, else counting up a row that has room: so a slot is written once), and gives back
-- the places of a candidate whose slots were not all free, or are held for others. Candidates
-- that share a slot take their turns in waves of the round, the earlier booking first. A later
-- wave or round sees what the earlier ones took, as writes one after the other would; so a crowd
-- asking for one slot is decided in two waves: the first booking takes it, the others are full.
--
-- Answers per booking: `booked` (the candidate booked); `replayed` (the key's record: the server
-- judges whether it is the same request); `closed`, `full` or `held` (why the first candidate
-- judged was refused); `untimely` (the hold's candidate, whose time is not bookable); `gone` (no
-- such active hold); `mismatch` (the hold is for another place); `again` (its key or hold is an
-- earlier booking's of the batch: it goes in the next batch).
CREATE FUNCTION book_appointments(
    c_op INTEGER[],
    c_rank INTEGER[],
    c_timely BOOLEAN[],
    c_resource TEXT[],
    c_capacity INTEGER[],
    c_start BIGINT[],
    c_end BIGINT[],
    c_occupied TEXT[],
    c_service TEXT[],
    o_id TEXT[],
    o_client_name TEXT[],
    o_notes TEXT[],
    o_email TEXT[],
    o_phone TEXT[],
    o_actor TEXT[],
    o_hold TEXT[],
    o_key TEXT[],
    o_fingerprint TEXT[],
    o_now BIGINT[],
    o_key_since BIGINT[]
) RETURNS SETOF batch_answer
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
DECLARE
    records idempotency_records[];
    -- Per booking: its answer once decided; the candidate its hold is for; the candidate it was
    -- booked on, or else its first refusal (why, which candidate, a closure's reason and end).
    answers TEXT[];
    hold_ranks INTEGER[];
    ranks INTEGER[];
    whys TEXT[];
    reasons TEXT[];
    untils BIGINT[];
    -- Per round: which candidate (an index into `c_*`) each undecided booking tries; those
    -- booked. Per wave of a round: the candidates waiting for it; those taking places, and the
    -- slots they took (`resource|start`).
    round INTEGER := 0;
    trying INTEGER[];
    booked INTEGER[];
    waiting INTEGER[];
    taking INTEGER[];
    taken TEXT[];
    -- Per candidate of a round refused: why, as `n|why`, and for a closure `n|closed|end|reason`.
    verdicts TEXT[];
    -- Per wave: how many slots its takers ask for, and how many of them were refused after
    -- taking places.
    asked INTEGER;
    refused INTEGER;
BEGIN
    -- A batch of plain bookings (no key, no hold, the common case) skips what only keys and
    -- holds need: each statement spared is an executor run spared.
    answers := array_fill(NULL::TEXT, ARRAY[cardinality(o_id)]);
    hold_ranks := array_fill(NULL::INTEGER, ARRAY[cardinality(o_id)]);
    records := '{}';
    IF cardinality(array_remove(o_key, NULL)) > 0 THEN
        SELECT coalesce(array_agg(r), '{}') INTO records FROM remembered(o_key, o_key_since) AS r;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(1651207783, 1);
    IF cardinality(array_remove(o_key, NULL)) > 0 OR cardinality(array_remove(o_hold, NULL)) > 0
    THEN
        PERFORM 1 FROM holds h WHERE h.token = ANY (o_hold) ORDER BY h.token FOR UPDATE;
        SELECT array_agg(a.answer ORDER BY a.op), array_agg(a.rank ORDER BY a.op)
        INTO answers, hold_ranks
        FROM (
            SELECT o.op,
                   CASE
                       -- A key's or hold's first booking in the batch goes on; a later one waits.
                       WHEN EXISTS (SELECT 1 FROM unnest(o_key) WITH ORDINALITY AS e(key, op)
                                    WHERE e.key = o.key AND e.op < o.op)
                         OR EXISTS (SELECT 1 FROM unnest(o_hold) WITH ORDINALITY AS e(hold, op)
                                    WHERE e.hold = o.hold AND e.op < o.op) THEN 'again'
                       WHEN EXISTS (SELECT 1 FROM unnest(records) AS r WHERE r.key = o.key)
                           THEN 'replayed'
                       WHEN o.hold IS NULL THEN NULL
                       WHEN h.token IS NULL THEN 'gone'
                       WHEN m.rank IS NULL THEN 'mismatch'
                       WHEN NOT m.timely THEN 'untimely'
                   END AS answer,
                   m.rank
            FROM unnest(o_key, o_hold, o_now) WITH ORDINALITY AS o(key, hold, now_at, op)
            LEFT JOIN holds h ON h.token = o.hold AND h.expires_at > o.now_at
            LEFT JOIN LATERAL (
                SELECT c.rank, c.timely
                FROM unnest(c_op, c_rank, c_timely, c_resource, c_service, c_start, c_end,
                            c_occupied)
                     AS c(op, rank, timely, resource, service, start_at, end_at, occupied)
                WHERE c.op = o.op AND c.resource = h.resource
                  AND c.service IS NOT DISTINCT FROM h.service
                  AND c.start_at = h.start_at AND c.end_at = h.end_at
                  AND c.occupied = (SELECT string_agg(s.start_at::TEXT, ',' ORDER BY s.start_at)
                                    FROM hold_slots s WHERE s.token = h.token)
                ORDER BY c.rank
                LIMIT 1
            ) AS m ON h.token IS NOT NULL
        ) AS a;
    END IF;
    ranks := hold_ranks;
    whys := array_fill(NULL::TEXT, ARRAY[cardinality(o_id)]);
    reasons := whys;
    untils := array_fill(NULL::BIGINT, ARRAY[cardinality(o_id)]);

    LOOP
        round := round + 1;
        SELECT array_agg(c.n ORDER BY c.n) INTO trying
        FROM (
            SELECT c.n, row_number() OVER (PARTITION BY c.op ORDER BY c.rank) AS tried
            FROM unnest(c_op, c_rank, c_timely) WITH ORDINALITY AS c(op, rank, timely, n)
            WHERE answers[c.op] IS NULL
              AND CASE WHEN o_hold[c.op] IS NULL THEN c.timely
                       ELSE c.rank = hold_ranks[c.op] END
        ) AS c
        WHERE c.tried = round;
        EXIT WHEN trying IS NULL;
        verdicts := '{}';
        booked := '{}';
        waiting := trying;

        -- In waves: closed ones and ones full already are refused; of the others, one that
        -- shares a slot with an earlier booking's waits for the next wave, so that no two
        -- take a place in one slot in one statement.
        LOOP
            WITH judged AS (
                SELECT t.n,
                       CASE
                           WHEN closure.end_at IS NOT NULL
                               THEN 'closed|' || closure.end_at || '|'
                                    || coalesce(closure.reason, '')
                           WHEN EXISTS (
                               SELECT 1
                               FROM unnest(string_to_array(c_occupied[t.n], ',')::BIGINT[])
                                    AS s(start_at)
                               WHERE (SELECT o.booked FROM occupancy o
                                      WHERE o.resource = c_resource[t.n]
                                        AND o.start_at = s.start_at) >= c_capacity[t.n])
                               THEN 'full'
                       END AS why
                FROM unnest(waiting) AS t(n)
                LEFT JOIN LATERAL (
                    SELECT c.reason, c.end_at FROM closures c
                    WHERE c.start_at < c_end[t.n] AND c.end_at > c_start[t.n]
                      AND (c.resource IS NULL OR c.resource = c_resource[t.n])
                    ORDER BY c.start_at, c.id
                    LIMIT 1
                ) AS closure ON true
            ),
            waves AS (
                SELECT j.n, j.why,
                       j.why IS NULL AND EXISTS (
                           SELECT 1 FROM judged e,
                                unnest(string_to_array(c_occupied[e.n], ',')) AS es(start_at),
                                unnest(string_to_array(c_occupied[j.n], ',')) AS js(start_at)
                           WHERE e.why IS NULL AND c_op[e.n] < c_op[j.n]
                             AND c_resource[e.n] = c_resource[j.n] AND es.start_at = js.start_at
                       ) AS later
                FROM judged j
            )
            SELECT verdicts || coalesce(array_agg(w.n::TEXT || '|' || w.why)
                                        FILTER (WHERE w.why IS NOT NULL), '{}'),
                   array_agg(w.n) FILTER (WHERE w.why IS NULL AND NOT w.later),
                   array_agg(w.n) FILTER (WHERE w.later),
                   coalesce(sum(cardinality(string_to_array(c_occupied[w.n], ',')))
                            FILTER (WHERE w.why IS NULL AND NOT w.later), 0)
            INTO verdicts, taking, waiting, asked
            FROM waves w;

            IF taking IS NOT NULL THEN
                -- A slot's first booking creates its row, in the order of slots.
                WITH took AS (
                    INSERT INTO occupancy AS o (resource, start_at, booked)
                    SELECT c_resource[t.n], s.start_at, 1
                    FROM unnest(taking) AS t(n),
                         unnest(string_to_array(c_occupied[t.n], ',')::BIGINT[]) AS s(start_at)
                    ORDER BY 1, 2
                    ON CONFLICT DO NOTHING
                    RETURNING o.resource || '|' || o.start_at AS slot
                )
                SELECT coalesce(array_agg(took.slot), '{}') INTO taken FROM took;
                -- The others' rows exist: each is locked, in the order of slots, and counted
                -- up if it has room.
                IF cardinality(taken) < asked THEN
                    WITH existing AS (
                        SELECT c_resource[t.n] AS resource, s.start_at, c_capacity[t.n] AS capacity
                        FROM unnest(taking) AS t(n),
                             unnest(string_to_array(c_occupied[t.n], ',')::BIGINT[]) AS s(start_at)
                        WHERE NOT (c_resource[t.n] || '|' || s.start_at) = ANY (taken)
                    ),
                    locked AS (
                        SELECT o.resource, o.start_at, o.booked, a.capacity
                        FROM (SELECT * FROM existing ORDER BY resource, start_at) AS a,
                             LATERAL (SELECT * FROM occupancy o
                                      WHERE o.resource = a.resource AND o.start_at = a.start_at
                                      FOR UPDATE) AS o
                    ),
                    counted AS (
                        UPDATE occupancy o SET booked = o.booked + 1
                        FROM locked l
                        WHERE o.resource = l.resource AND o.start_at = l.start_at
                          AND l.booked < l.capacity
                        RETURNING o.resource || '|' || o.start_at AS slot
                    )
                    SELECT taken || coalesce(array_agg(counted.slot), '{}') INTO taken FROM counted;
                END IF;

                -- A candidate with a slot not taken is full; one whose slots are now taken by
                -- bookings and held by others past the capacity is held. Either gives its
                -- places back.
                SELECT verdicts || coalesce(array_agg(j.n::TEXT || '|' || j.why)
                                            FILTER (WHERE j.why IS NOT NULL), '{}'),
                       booked || coalesce(array_agg(j.n) FILTER (WHERE j.why IS NULL), '{}'),
                       count(*) FILTER (WHERE j.why IS NOT NULL)
                INTO verdicts, booked, refused
                FROM (
                    SELECT t.n,
                           CASE
                               WHEN EXISTS (
                                   SELECT 1
                                   FROM unnest(string_to_array(c_occupied[t.n], ','))
                                        AS s(start_at)
                                   WHERE NOT (c_resource[t.n] || '|' || s.start_at) = ANY (taken))
                                   THEN 'full'
                               WHEN EXISTS (
                                   SELECT 1
                                   FROM unnest(string_to_array(c_occupied[t.n], ',')::BIGINT[])
                                        AS s(start_at)
                                   WHERE (SELECT o.booked FROM occupancy o
                                          WHERE o.resource = c_resource[t.n]
                                            AND o.start_at = s.start_at)
                                       + (SELECT count(*) FROM hold_slots h
                                          WHERE h.resource = c_resource[t.n]
                                            AND h.start_at = s.start_at
                                            AND h.expires_at > o_now[c_op[t.n]]
                                            AND h.token IS DISTINCT FROM o_hold[c_op[t.n]])
                                       > c_capacity[t.n])
                                   THEN 'held'
                           END AS why
                    FROM unnest(taking) AS t(n)
                ) AS j;
                IF refused > 0 THEN
                    UPDATE occupancy o SET booked = o.booked - 1
                    FROM (
                        SELECT c_resource[t.n] AS resource, s.start_at
                        FROM unnest(taking) AS t(n),
                             unnest(string_to_array(c_occupied[t.n], ',')::BIGINT[]) AS s(start_at)
                        WHERE NOT t.n = ANY (booked)
                          AND (c_resource[t.n] || '|' || s.start_at) = ANY (taken)
                    ) AS back
                    WHERE o.resource = back.resource AND o.start_at = back.start_at;
                END IF;
            END IF;
            EXIT WHEN waiting IS NULL;
        END LOOP;

        -- What the round decided: booked, or a refusal (kept if it is the booking's first), and
        -- the booking goes on to its next candidate.
        SELECT array_agg(CASE WHEN d.answer IS NOT NULL THEN d.answer ELSE answers[o.op] END
                         ORDER BY o.op),
               array_agg(CASE WHEN d.answer IS NOT NULL OR (whys[o.op] IS NULL AND d.why IS NOT NULL)
                              THEN c_rank[d.n] ELSE ranks[o.op] END ORDER BY o.op),
               array_agg(coalesce(whys[o.op], d.why) ORDER BY o.op),
               array_agg(CASE WHEN whys[o.op] IS NULL AND d.why = 'closed' THEN d.reason
                              ELSE reasons[o.op] END ORDER BY o.op),
               array_agg(CASE WHEN whys[o.op] IS NULL AND d.why = 'closed' THEN d.until_at
                              ELSE untils[o.op] END ORDER BY o.op)
        INTO answers, ranks, whys, reasons, untils
        FROM generate_series(1, cardinality(o_id)) AS o(op)
        LEFT JOIN (
            SELECT c_op[t.n] AS op, t.n,
                   CASE WHEN t.n = ANY (booked) THEN 'booked' END AS answer,
                   v.why, nullif(v.reason, '') AS reason, v.until_at
            FROM unnest(trying) AS t(n)
            LEFT JOIN (
                SELECT split_part(v, '|', 1)::INTEGER AS n, split_part(v, '|', 2) AS why,
                       nullif(split_part(v, '|', 3), '')::BIGINT AS until_at,
                       substr(v, length(split_part(v, '|', 1)) + length(split_part(v, '|', 2))
                                 + length(split_part(v, '|', 3)) + 4) AS reason
                FROM unnest(verdicts) AS v
            ) AS v ON v.n = t.n
        ) AS d ON d.op = o.op;
        -- Every booking decided: no round more.
        EXIT WHEN array_position(answers, NULL) IS NULL;
    END LOOP;

    -- Keys and holds first, only when the batch has any: the statement after them, every
    -- batch's, is then as small as a plain booking needs.
    IF cardinality(array_remove(o_key, NULL)) > 0 OR cardinality(array_remove(o_hold, NULL)) > 0
    THEN
        WITH winners AS (
            SELECT b.op::INTEGER AS op, c.*
            FROM unnest(answers, ranks) WITH ORDINALITY AS b(answer, rank, op),
                 unnest(c_op, c_rank, c_resource, c_start, c_end, c_occupied, c_service)
                     AS c(c_op, c_rank, resource, start_at, end_at, occupied, service)
            WHERE b.answer = 'booked' AND c.c_op = b.op AND c.c_rank = b.rank
        ),
        kept AS (
            INSERT INTO idempotency_records (key, operation, fingerprint, created_at,
                                             appointment_id, client_name, notes, resource,
                                             service, start_at, end_at, occupied, status,
                                             booked_at, changed_at, email, phone)
            SELECT o_key[w.op], 'book', o_fingerprint[w.op], o_now[w.op], o_id[w.op],
                   o_client_name[w.op], o_notes[w.op], w.resource, w.service, w.start_at,
                   w.end_at, w.occupied, 'scheduled', o_now[w.op], o_now[w.op], o_email[w.op],
                   o_phone[w.op]
            FROM winners w
            WHERE o_key[w.op] IS NOT NULL
            RETURNING key
        )
        -- A converted hold's places are the appointment's now (its slots go by the cascade).
        DELETE FROM holds h USING winners w WHERE h.token = o_hold[w.op];
    END IF;

    RETURN QUERY
    WITH winners AS (
        SELECT b.op::INTEGER AS op, c.*
        FROM unnest(answers, ranks) WITH ORDINALITY AS b(answer, rank, op),
             unnest(c_op, c_rank, c_resource, c_start, c_end, c_occupied, c_service)
                 AS c(c_op, c_rank, resource, start_at, end_at, occupied, service)
        WHERE b.answer = 'booked' AND c.c_op = b.op AND c.c_rank = b.rank
    ),
    made AS (
        INSERT INTO appointments (id, client_name, notes, start_at, end_at, status, created_at,
                                  updated_at, resource, service, occupied, email, phone)
        SELECT o_id[w.op], o_client_name[w.op], o_notes[w.op], w.start_at, w.end_at,
               'scheduled', o_now[w.op], o_now[w.op], w.resource, w.service, w.occupied,
               o_email[w.op], o_phone[w.op]
        FROM winners w
        RETURNING id
    ),
    entries AS (
        INSERT INTO appointment_history (appointment_id, made_at, kind, start_at, end_at, actor)
        SELECT o_id[w.op], o_now[w.op], 'scheduled', w.start_at, w.end_at, o_actor[w.op]
        FROM winners w
        ORDER BY w.op
        RETURNING id
    )
    -- A keyed booking none of whose candidates' times can be booked is refused for the first.
    SELECT b.op::INTEGER, coalesce(b.answer, b.why, 'untimely'), coalesce(b.rank, 1), b.reason,
           b.until_at,
           r.operation, r.fingerprint, r.created_at, r.appointment_id, r.client_name, r.notes,
           r.resource, r.service, r.start_at, r.end_at, r.occupied, r.status, r.booked_at,
           r.changed_at, r.email, r.phone, NULL::BIGINT
    FROM unnest(answers, whys, ranks, reasons, untils, o_key)
             WITH ORDINALITY AS b(answer, why, rank, reason, until_at, key, op)
    LEFT JOIN unnest(records) AS r ON b.answer = 'replayed' AND r.key = b.key
    ORDER BY b.op;
END
$$;

-- Cancels a batch. Per cancel: the appointment, who cancels and why, its idempotency key with the
-- request's fingerprint, when it is made and when the oldest record its key may replay was made. Answers, each but `again` and `replayed` with the appointment as
-- locked, before the change: `canceled`; `refused` (it is canceled already, or has started: the
-- server says which); `missing`; `replayed`; `again`.
CREATE FUNCTION cancel_appointments(
    o_id TEXT[],
    o_actor TEXT[],
    o_reason TEXT[],
    o_key TEXT[],
    o_fingerprint TEXT[],
    o_now BIGINT[],
    o_key_since BIGINT[]
) RETURNS SETOF batch_answer
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
DECLARE
    records idempotency_records[];
    answers TEXT[];
BEGIN
    SELECT coalesce(array_agg(r), '{}') INTO records FROM remembered(o_key, o_key_since) AS r;
    SELECT array_agg(CASE
               WHEN EXISTS (SELECT 1 FROM unnest(o_key, o_id) WITH ORDINALITY AS e(key, id, op)
                            WHERE (e.key = o.key OR e.id = o.id) AND e.op < o.op) THEN 'again'
               WHEN EXISTS (SELECT 1 FROM unnest(records) AS r WHERE r.key = o.key)
                   THEN 'replayed'
           END ORDER BY o.op)
    INTO answers
    FROM unnest(o_key, o_id) WITH ORDINALITY AS o(key, id, op);
    PERFORM 1 FROM appointments a
    WHERE a.id IN (SELECT o.id FROM unnest(o_id, answers) AS o(id, answer) WHERE o.answer IS NULL)
    ORDER BY a.id FOR UPDATE;
    PERFORM 1 FROM occupancy o
    WHERE (o.resource, o.start_at) IN (
        SELECT a.resource, s.start_at
        FROM unnest(o_id, answers, o_now) AS t(id, answer, now_at)
        JOIN appointments a ON a.id = t.id,
             unnest(string_to_array(a.occupied, ',')::BIGINT[]) AS s(start_at)
        WHERE t.answer IS NULL AND a.status = 'scheduled' AND a.start_at > t.now_at)
    ORDER BY o.resource, o.start_at FOR UPDATE;

    RETURN QUERY
    WITH targets AS (
        SELECT t.op::INTEGER AS op, t.now_at AS asked_at, a.*
        FROM unnest(o_id, answers, o_now) WITH ORDINALITY AS t(id, answer, now_at, op)
        JOIN appointments a ON a.id = t.id
        WHERE t.answer IS NULL
    ),
    cancelable AS (
        SELECT * FROM targets t WHERE t.status = 'scheduled' AND t.start_at > t.asked_at
    ),
    changed AS (
        UPDATE appointments a SET status = 'canceled', updated_at = c.asked_at
        FROM cancelable c WHERE a.id = c.id
        RETURNING a.id
    ),
    freed AS (
        UPDATE occupancy o SET booked = o.booked - f.places
        FROM (SELECT c.resource, s.start_at, count(*)::INTEGER AS places
              FROM cancelable c, unnest(string_to_array(c.occupied, ',')::BIGINT[]) AS s(start_at)
              GROUP BY c.resource, s.start_at) AS f
        WHERE o.resource = f.resource AND o.start_at = f.start_at
        RETURNING o.resource
    ),
    entries AS (
        INSERT INTO appointment_history (appointment_id, made_at, kind, start_at, end_at, actor,
                                         reason)
        SELECT c.id, c.asked_at, 'canceled', c.start_at, c.end_at, o_actor[c.op],
               o_reason[c.op]
        FROM cancelable c
        ORDER BY c.op
        RETURNING id
    ),
    kept AS (
        INSERT INTO idempotency_records (key, operation, fingerprint, created_at,
                                         appointment_id, client_name, notes, resource, service,
                                         start_at, end_at, occupied, status, booked_at,
                                         changed_at, email, phone)
        SELECT o_key[c.op], 'cancel', o_fingerprint[c.op], c.asked_at, c.id, c.client_name,
               c.notes, c.resource, c.service, c.start_at, c.end_at, c.occupied, 'canceled',
               c.created_at, c.asked_at, c.email, c.phone
        FROM cancelable c
        WHERE o_key[c.op] IS NOT NULL
        RETURNING key
    )
    SELECT t.op, CASE WHEN t.id IN (SELECT c.id FROM cancelable c) THEN 'canceled'
                      ELSE 'refused' END,
           NULL::INTEGER, NULL::TEXT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::BIGINT,
           t.id, t.client_name, t.notes, t.resource, t.service, t.start_at, t.end_at,
           t.occupied, t.status, t.created_at, t.updated_at, t.email, t.phone, NULL::BIGINT
    FROM targets t
    UNION ALL
    SELECT o.op::INTEGER, coalesce(o.answer, 'missing'), NULL, NULL, NULL,
           r.operation, r.fingerprint, r.created_at, r.appointment_id, r.client_name, r.notes,
           r.resource, r.service, r.start_at, r.end_at, r.occupied, r.status, r.booked_at,
           r.changed_at, r.email, r.phone, NULL
    FROM unnest(o_id, o_key, answers) WITH ORDINALITY AS o(id, key, answer, op)
    LEFT JOIN unnest(records) AS r ON o.answer = 'replayed' AND r.key = o.key
    WHERE o.op NOT IN (SELECT t.op FROM targets t)
    ORDER BY 1;
END
$$;

-- Moves a batch. Per move: the appointment, who moves it, its idempotency key with the
-- request's fingerprint, the place it is to go to (`t_*`, whether its time is bookable now
-- included), when it is made and when the oldest record its key may replay was made. Answers, each but `again` and `replayed` with the appointment as locked, before
-- the change: `moved`; `unchanged` (asked for the place it has); `refused` (it is canceled, or
-- has started: the server says which); `untimely`; `closed`, `full` or `held`; `missing`;
-- `replayed`; `again`.
CREATE FUNCTION move_appointments(
    o_id TEXT[],
    o_actor TEXT[],
    o_key TEXT[],
    o_fingerprint TEXT[],
    t_resource TEXT[],
    t_capacity INTEGER[],
    t_start BIGINT[],
    t_end BIGINT[],
    t_occupied TEXT[],
    t_timely BOOLEAN[],
    o_now BIGINT[],
    o_key_since BIGINT[]
) RETURNS SETOF batch_answer
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
DECLARE
    records idempotency_records[];
    answers TEXT[];
BEGIN
    SELECT coalesce(array_agg(r), '{}') INTO records FROM remembered(o_key, o_key_since) AS r;
    SELECT array_agg(CASE
               WHEN EXISTS (SELECT 1 FROM unnest(o_key, o_id) WITH ORDINALITY AS e(key, id, op)
                            WHERE (e.key = o.key OR e.id = o.id) AND e.op < o.op) THEN 'again'
               WHEN EXISTS (SELECT 1 FROM unnest(records) AS r WHERE r.key = o.key)
                   THEN 'replayed'
           END ORDER BY o.op)
    INTO answers
    FROM unnest(o_key, o_id) WITH ORDINALITY AS o(key, id, op);
    PERFORM pg_advisory_xact_lock_shared(1651207783, 1);
    PERFORM 1 FROM appointments a
    WHERE a.id IN (SELECT o.id FROM unnest(o_id, answers) AS o(id, answer) WHERE o.answer IS NULL)
    ORDER BY a.id FOR UPDATE;
    -- The places left and the places to take, of every real move.
    PERFORM lock_slots(coalesce(array_agg(p.resource), '{}'), coalesce(array_agg(p.occupied), '{}'))
    FROM (
        SELECT x.resource, x.occupied
        FROM unnest(o_id, answers, t_resource, t_start, t_end, t_occupied, t_timely, o_now)
             AS t(id, answer, resource, start_at, end_at, occupied, timely, now_at)
        JOIN appointments a ON a.id = t.id,
             LATERAL (VALUES (a.resource, a.occupied), (t.resource, t.occupied))
                 AS x(resource, occupied)
        WHERE t.answer IS NULL AND t.timely AND a.status = 'scheduled' AND a.start_at > t.now_at
          AND NOT (a.start_at = t.start_at AND a.end_at = t.end_at AND a.resource = t.resource)
    ) AS p;

    RETURN QUERY
    WITH targets AS (
        SELECT t.op::INTEGER AS op, t.resource AS to_resource, t.capacity AS to_capacity,
               t.start_at AS to_start, t.end_at AS to_end, t.occupied AS to_occupied,
               string_to_array(t.occupied, ',')::BIGINT[] AS to_slots, t.timely,
               t.now_at AS asked_at, string_to_array(a.occupied, ',')::BIGINT[] AS slots, a.*
        FROM unnest(o_id, answers, t_resource, t_capacity, t_start, t_end, t_occupied, t_timely,
                    o_now)
             WITH ORDINALITY
             AS t(id, answer, resource, capacity, start_at, end_at, occupied, timely, now_at, op)
        JOIN appointments a ON a.id = t.id
        WHERE t.answer IS NULL
    ),
    verdicts AS (
        SELECT t.*,
               CASE
                   WHEN t.status <> 'scheduled' OR t.start_at <= t.asked_at THEN 'refused'
                   WHEN t.start_at = t.to_start AND t.end_at = t.to_end
                        AND t.resource = t.to_resource THEN 'unchanged'
                   WHEN NOT t.timely THEN 'untimely'
                   ELSE coalesce(r.why, 'moved')
               END AS answer,
               r.reason AS closure_reason, r.until_at AS closure_end
        FROM targets t
        LEFT JOIN LATERAL stored_refusal(
            t.to_resource, t.to_capacity, t.to_start, t.to_end, t.to_slots,
            CASE WHEN t.resource = t.to_resource THEN t.slots END, NULL, t.asked_at
        ) AS r ON t.status = 'scheduled' AND t.start_at > t.asked_at AND t.timely
    ),
    claims AS (
        SELECT v.op, v.resource, s.start_at FROM verdicts v, unnest(v.slots) AS s(start_at)
        WHERE v.answer = 'moved'
        UNION
        SELECT v.op, v.to_resource, s.start_at FROM verdicts v, unnest(v.to_slots) AS s(start_at)
        WHERE v.answer = 'moved'
    ),
    winners AS (
        SELECT v.* FROM verdicts v
        WHERE v.answer = 'moved'
          AND NOT EXISTS (SELECT 1 FROM claims mine JOIN claims earlier
                          ON earlier.resource = mine.resource AND earlier.start_at = mine.start_at
                             AND earlier.op < mine.op
                          WHERE mine.op = v.op)
    ),
    deltas AS (
        SELECT d.resource, d.start_at, sum(d.places)::INTEGER AS places, max(d.capacity) AS capacity
        FROM (SELECT w.resource, s.start_at, -1 AS places, NULL::INTEGER AS capacity
              FROM winners w, unnest(w.slots) AS s(start_at)
              UNION ALL
              SELECT w.to_resource, s.start_at, 1, w.to_capacity
              FROM winners w, unnest(w.to_slots) AS s(start_at)) AS d
        GROUP BY d.resource, d.start_at
        HAVING sum(d.places) <> 0
    ),
    took AS (
        UPDATE occupancy o SET booked = o.booked + d.places
        FROM deltas d
        WHERE o.resource = d.resource AND o.start_at = d.start_at
          AND (d.places < 0 OR o.booked + d.places <= d.capacity)
        RETURNING o.resource
    ),
    moved AS (
        UPDATE appointments a
        SET start_at = w.to_start, end_at = w.to_end, resource = w.to_resource,
            occupied = w.to_occupied, updated_at = w.asked_at
        FROM winners w WHERE a.id = w.id
        RETURNING a.id
    ),
    entries AS (
        INSERT INTO appointment_history (appointment_id, made_at, kind, start_at, end_at,
                                         from_start_at, from_end_at, actor)
        SELECT w.id, w.asked_at, 'rescheduled', w.to_start, w.to_end, w.start_at, w.end_at,
               o_actor[w.op]
        FROM winners w
        ORDER BY w.op
        RETURNING id
    ),
    kept AS (
        INSERT INTO idempotency_records (key, operation, fingerprint, created_at,
                                         appointment_id, client_name, notes, resource, service,
                                         start_at, end_at, occupied, status, booked_at,
                                         changed_at, email, phone)
        SELECT o_key[v.op], 'reschedule', o_fingerprint[v.op], v.asked_at, v.id, v.client_name,
               v.notes,
               CASE WHEN w.op IS NULL THEN v.resource ELSE v.to_resource END,
               v.service,
               CASE WHEN w.op IS NULL THEN v.start_at ELSE v.to_start END,
               CASE WHEN w.op IS NULL THEN v.end_at ELSE v.to_end END,
               CASE WHEN w.op IS NULL THEN v.occupied ELSE v.to_occupied END,
               v.status, v.created_at,
               CASE WHEN w.op IS NULL THEN v.updated_at ELSE v.asked_at END,
               v.email, v.phone
        FROM verdicts v LEFT JOIN winners w ON w.op = v.op
        WHERE o_key[v.op] IS NOT NULL AND (v.answer = 'unchanged' OR w.op IS NOT NULL)
        RETURNING key
    )
    SELECT v.op,
           CASE WHEN v.answer = 'moved' AND v.op NOT IN (SELECT w.op FROM winners w) THEN 'again'
                ELSE v.answer END,
           NULL::INTEGER, v.closure_reason, v.closure_end, NULL::TEXT, NULL::TEXT, NULL::BIGINT,
           v.id, v.client_name, v.notes, v.resource, v.service, v.start_at, v.end_at,
           v.occupied, v.status, v.created_at, v.updated_at, v.email, v.phone, NULL::BIGINT
    FROM verdicts v
    WHERE every_place_taken((SELECT count(*) FROM deltas), (SELECT count(*) FROM took))
    UNION ALL
    SELECT o.op::INTEGER, coalesce(o.answer, 'missing'), NULL, NULL, NULL,
           r.operation, r.fingerprint, r.created_at, r.appointment_id, r.client_name, r.notes,
           r.resource, r.service, r.start_at, r.end_at, r.occupied, r.status, r.booked_at,
           r.changed_at, r.email, r.phone, NULL
    FROM unnest(o_id, o_key, answers) WITH ORDINALITY AS o(id, key, answer, op)
    LEFT JOIN unnest(records) AS r ON o.answer = 'replayed' AND r.key = o.key
    WHERE o.op NOT IN (SELECT t.op FROM targets t)
    ORDER BY 1;
END
$$;

-- Takes holds in a batch. Per hold: its token, when it ends, its holder with the most active holds
-- the holder may have (none: uncapped), and when it is made. Per candidate (`c_*`), as for bookings. Answers:
-- `taken` (the candidate held); `too_many` (the holder's first hold ends at `until_at`);
-- `closed`, `full` or `held` (why the first candidate judged was refused); `again`.
CREATE FUNCTION take_holds(
    c_op INTEGER[],
    c_rank INTEGER[],
    c_timely BOOLEAN[],
    c_resource TEXT[],
    c_capacity INTEGER[],
    c_start BIGINT[],
    c_end BIGINT[],
    c_occupied TEXT[],
    c_service TEXT[],
    o_token TEXT[],
    o_expires_at BIGINT[],
    o_holder TEXT[],
    o_most INTEGER[],
    o_now BIGINT[]
) RETURNS SETOF batch_answer
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
DECLARE
    answers TEXT[];
    first_ends BIGINT[];
    judged BOOLEAN[];
BEGIN
    -- Two holds by one holder, on two servers, take turns: neither counts short.
    PERFORM lock_names(array_agg('holder ' || h)) FROM unnest(o_holder) AS h;
    PERFORM pg_advisory_xact_lock_shared(1651207783, 1);
    SELECT array_agg(a.answer ORDER BY a.op), array_agg(a.first_end ORDER BY a.op)
    INTO answers, first_ends
    FROM (
        SELECT o.op,
               CASE
                   WHEN EXISTS (SELECT 1 FROM unnest(o_holder) WITH ORDINALITY AS e(holder, op)
                                WHERE e.holder = o.holder AND e.op < o.op) THEN 'again'
                   WHEN q.active >= o.most THEN 'too_many'
               END AS answer,
               q.first_end
        FROM unnest(o_holder, o_most, o_now) WITH ORDINALITY AS o(holder, most, now_at, op)
        LEFT JOIN LATERAL (
            SELECT count(*) AS active, min(h.expires_at) AS first_end
            FROM holds h WHERE h.holder = o.holder AND h.expires_at > o.now_at
        ) AS q ON o.holder IS NOT NULL AND o.most IS NOT NULL
    ) AS a;
    SELECT array_agg(answers[c.op] IS NULL AND c.timely ORDER BY c.n)
    INTO judged
    FROM unnest(c_op, c_timely) WITH ORDINALITY AS c(op, timely, n);
    PERFORM lock_slots(coalesce(array_agg(c.resource ORDER BY c.n), '{}'),
                       coalesce(array_agg(c.occupied ORDER BY c.n), '{}'))
    FROM unnest(c_resource, c_occupied, judged) WITH ORDINALITY AS c(resource, occupied, judged, n)
    WHERE c.judged;

    RETURN QUERY
    WITH candidates AS (
        SELECT c.*, string_to_array(c.occupied, ',')::BIGINT[] AS slots
        FROM unnest(c_op, c_rank, c_resource, c_capacity, c_start, c_end, c_occupied,
                    c_service, judged)
             AS c(op, rank, resource, capacity, start_at, end_at, occupied, service, judged)
        WHERE c.judged
    ),
    verdicts AS (
        SELECT c.op, c.rank, r.why, r.reason, r.until_at
        FROM candidates c,
             stored_refusal(c.resource, c.capacity, c.start_at, c.end_at, c.slots, '{}', NULL,
                            o_now[c.op]) AS r
    ),
    chosen AS (
        SELECT DISTINCT ON (v.op) c.*
        FROM verdicts v JOIN candidates c ON c.op = v.op AND c.rank = v.rank
        WHERE v.why IS NULL
        ORDER BY v.op, v.rank
    ),
    claims AS (
        SELECT c.op, c.resource, s.start_at FROM chosen c, unnest(c.slots) AS s(start_at)
    ),
    winners AS (
        SELECT c.* FROM chosen c
        WHERE NOT EXISTS (SELECT 1 FROM claims mine JOIN claims earlier
                          ON earlier.resource = mine.resource AND earlier.start_at = mine.start_at
                             AND earlier.op < mine.op
                          WHERE mine.op = c.op)
    ),
    made AS (
        INSERT INTO holds (token, resource, service, start_at, end_at, created_at, expires_at,
                           holder)
        SELECT o_token[w.op], w.resource, w.service, w.start_at, w.end_at, o_now[w.op],
               o_expires_at[w.op], o_holder[w.op]
        FROM winners w
        RETURNING token
    ),
    slots AS (
        INSERT INTO hold_slots (token, resource, start_at, expires_at)
        SELECT o_token[w.op], w.resource, s.start_at, o_expires_at[w.op]
        FROM winners w, unnest(w.slots) AS s(start_at)
        RETURNING token
    )
    SELECT w.op, 'taken', w.rank, NULL::TEXT, NULL::BIGINT, NULL::TEXT, NULL::TEXT,
           NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::BIGINT,
           NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::BIGINT, NULL::BIGINT, NULL::TEXT,
           NULL::TEXT, NULL::BIGINT
    FROM winners w
    UNION ALL
    SELECT c.op, 'again', c.rank, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM chosen c WHERE c.op NOT IN (SELECT w.op FROM winners w)
    UNION ALL
    (SELECT DISTINCT ON (v.op) v.op, v.why, v.rank, v.reason, v.until_at, NULL, NULL, NULL,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
     FROM verdicts v WHERE v.op NOT IN (SELECT c.op FROM chosen c)
     ORDER BY v.op, v.rank)
    UNION ALL
    SELECT a.op::INTEGER, a.answer, NULL, NULL, first_ends[a.op], NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM unnest(answers) WITH ORDINALITY AS a(answer, op) WHERE a.answer IS NOT NULL
    ORDER BY 1;
END
$$;

-- Releases holds in a batch, by token, each at its `o_now`. Answers, with the hold as it was (its
-- token as `id`, `occupied` from its slots): `released`; `gone` (no such hold active then, which
-- is left to the sweep); `again`.
CREATE FUNCTION release_holds(o_token TEXT[], o_now BIGINT[]) RETURNS SETOF batch_answer
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $$
BEGIN
    PERFORM 1 FROM holds h WHERE h.token = ANY (o_token) ORDER BY h.token FOR UPDATE;
    RETURN QUERY
    WITH asked AS (
        SELECT o.op::INTEGER AS op, o.token, o.now_at,
               EXISTS (SELECT 1 FROM unnest(o_token) WITH ORDINALITY AS e(token, op)
                       WHERE e.token = o.token AND e.op < o.op) AS again
        FROM unnest(o_token, o_now) WITH ORDINALITY AS o(token, now_at, op)
    ),
    found AS (
        SELECT a.op, h.*,
               (SELECT string_agg(s.start_at::TEXT, ',' ORDER BY s.start_at)
                FROM hold_slots s WHERE s.token = h.token) AS occupied
        FROM asked a JOIN holds h ON h.token = a.token AND h.expires_at > a.now_at
        WHERE NOT a.again
    ),
    released AS (
        DELETE FROM holds h USING found f WHERE h.token = f.token RETURNING h.token
    )
    SELECT a.op,
           CASE WHEN a.again THEN 'again' WHEN f.token IS NULL THEN 'gone' ELSE 'released' END,
           NULL::INTEGER, NULL::TEXT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::BIGINT,
           f.token, NULL::TEXT, NULL::TEXT, f.resource, f.service, f.start_at, f.end_at,
           f.occupied, NULL::TEXT, f.created_at, NULL::BIGINT, NULL::TEXT, NULL::TEXT,
           f.expires_at
    FROM asked a LEFT JOIN found f ON f.op = a.op
    ORDER BY a.op;
END
$$;

-- The outbox's triggers fire once per statement, over the entries it added: a batch of writes
-- queues its deliveries and messages with one statement each, not one call per entry.
DROP TRIGGER webhook_deliveries_of_history ON appointment_history;
DROP FUNCTION queue_webhook_deliveries();
CREATE FUNCTION queue_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (endpoint_id, entry_id, next_attempt_at)
    SELECT e.id, a.id, a.made_at
    FROM added a
    JOIN webhook_endpoints e
      ON e.events IS NULL OR ',' || e.events || ',' LIKE '%,appointment.' || a.kind || ',%'
    ORDER BY a.id, e.seq
    -- An endpoint being deleted meanwhile is waited for and then passed over, instead of
    -- getting a delivery whose foreign key fails the write.
    FOR KEY SHARE OF e;
    RETURN NULL;
END
$$;
CREATE TRIGGER webhook_deliveries_of_history AFTER INSERT ON appointment_history
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION queue_webhook_deliveries();

DROP TRIGGER notifications_of_history ON appointment_history;
DROP FUNCTION queue_notifications();
CREATE FUNCTION queue_notifications() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER notifications_of_history AFTER INSERT ON appointment_history
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION queue_notifications();

-- Reads appointments by id, a batch of point reads in one statement. Answers per id: `found`
-- (with the appointment) or `missing`. A plain query, which PostgreSQL inlines into the
-- statement that calls it: the readers' connections plan it once, finding each row by its key
-- whatever the table's size (their sessions plan as the functions above do).
CREATE FUNCTION find_appointments(o_id TEXT[]) RETURNS SETOF batch_answer
LANGUAGE sql STABLE
AS $$
    SELECT o.op::INTEGER, CASE WHEN a.id IS NULL THEN 'missing' ELSE 'found' END,
           NULL::INTEGER, NULL::TEXT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::BIGINT,
           a.id, a.client_name, a.notes, a.resource, a.service, a.start_at, a.end_at,
           a.occupied, a.status, a.created_at, a.updated_at, a.email, a.phone, NULL::BIGINT
    FROM unnest(o_id) WITH ORDINALITY AS o(id, op)
    LEFT JOIN LATERAL (SELECT * FROM appointments a WHERE a.id = o.id) AS a ON true
    ORDER BY o.op
$$;
