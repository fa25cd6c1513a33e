-- A move may change the appointment's service too: `move_appointments` gains `t_service`, the
-- service the appointment is to have (NULL: none), writes it with the slots the server worked
-- out for it, and answers `unchanged` only for the same time, resource and service. The service
-- is always written as the server placed it, never kept from the row: the slots and the service
-- always go together, even when two moves of one appointment cross.
--
-- A move's history entry records the resource and the service it left, beside the time (entries
-- of other kinds, and moves recorded before, have neither).
--
-- The function as it was stays, as a wrapper that passes each appointment's service as it is,
-- so that servers of the version before go on working while an upgrade rolls from server to
-- server.

ALTER TABLE appointment_history
    ADD COLUMN from_resource TEXT,
    ADD COLUMN from_service TEXT,
    ADD CONSTRAINT appointment_history_from_place
        CHECK ((from_resource IS NULL OR kind = 'rescheduled')
               AND (from_service IS NULL OR from_resource IS NOT NULL));

-- Moves a batch. Per move: the appointment, who moves it, its idempotency key with the
-- request's fingerprint, the place it is to go to (`t_*`: its resource, its service, its time
-- and slots, whether its time is bookable now), when it is made, the notice it is held to
-- (seconds before the start) and when the oldest record its key may replay was made. Answers,
-- each but `again` and `replayed` with the appointment as locked, before the change: `moved`;
-- `unchanged` (asked for the place it has: the same time, resource and service); `refused` (it
-- is canceled, has started, or starts within the notice: the server says which); `untimely`;
-- `closed`, `full` or `held`; `missing`; `replayed`; `again`.
CREATE FUNCTION move_appointments(
    o_id TEXT[],
    o_actor TEXT[],
    o_key TEXT[],
    o_fingerprint TEXT[],
    t_resource TEXT[],
    t_service TEXT[],
    t_capacity INTEGER[],
    t_start BIGINT[],
    t_end BIGINT[],
    t_occupied TEXT[],
    t_timely BOOLEAN[],
    o_now BIGINT[],
    o_notice BIGINT[],
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
        FROM unnest(o_id, answers, t_resource, t_service, t_start, t_end, t_occupied, t_timely,
                    o_now, o_notice)
             AS t(id, answer, resource, service, start_at, end_at, occupied, timely, now_at,
                  notice)
        JOIN appointments a ON a.id = t.id,
             LATERAL (VALUES (a.resource, a.occupied), (t.resource, t.occupied))
                 AS x(resource, occupied)
        WHERE t.answer IS NULL AND t.timely AND a.status = 'scheduled' AND a.start_at > t.now_at
          AND a.start_at >= t.now_at + t.notice
          AND NOT (a.start_at = t.start_at AND a.end_at = t.end_at AND a.resource = t.resource
                   AND a.service IS NOT DISTINCT FROM t.service)
    ) AS p;

    RETURN QUERY
    WITH targets AS (
        SELECT t.op::INTEGER AS op, t.resource AS to_resource,
               t.service AS to_service, t.capacity AS to_capacity,
               t.start_at AS to_start, t.end_at AS to_end, t.occupied AS to_occupied,
               string_to_array(t.occupied, ',')::BIGINT[] AS to_slots, t.timely,
               t.now_at AS asked_at, t.notice, string_to_array(a.occupied, ',')::BIGINT[] AS slots,
               a.*
        FROM unnest(o_id, answers, t_resource, t_service, t_capacity, t_start, t_end, t_occupied,
                    t_timely, o_now, o_notice)
             WITH ORDINALITY
             AS t(id, answer, resource, service, capacity, start_at, end_at, occupied, timely,
                  now_at, notice, op)
        JOIN appointments a ON a.id = t.id
        WHERE t.answer IS NULL
    ),
    verdicts AS (
        SELECT t.*,
               CASE
                   WHEN t.status <> 'scheduled' OR t.start_at <= t.asked_at THEN 'refused'
                   WHEN t.start_at = t.to_start AND t.end_at = t.to_end
                        AND t.resource = t.to_resource
                        AND t.service IS NOT DISTINCT FROM t.to_service THEN 'unchanged'
                   WHEN t.start_at < t.asked_at + t.notice THEN 'refused'
                   WHEN NOT t.timely THEN 'untimely'
                   ELSE coalesce(r.why, 'moved')
               END AS answer,
               r.reason AS closure_reason, r.until_at AS closure_end
        FROM targets t
        LEFT JOIN LATERAL stored_refusal(
            t.to_resource, t.to_capacity, t.to_start, t.to_end, t.to_slots,
            CASE WHEN t.resource = t.to_resource THEN t.slots END, NULL, t.asked_at
        ) AS r ON t.status = 'scheduled' AND t.start_at > t.asked_at AND t.timely
                AND t.start_at >= t.asked_at + t.notice
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
            service = w.to_service, occupied = w.to_occupied, updated_at = w.asked_at
        FROM winners w WHERE a.id = w.id
        RETURNING a.id
    ),
    entries AS (
        INSERT INTO appointment_history (appointment_id, made_at, kind, start_at, end_at,
                                         from_start_at, from_end_at, actor, from_resource,
                                         from_service)
        SELECT w.id, w.asked_at, 'rescheduled', w.to_start, w.to_end, w.start_at, w.end_at,
               o_actor[w.op], w.resource, w.service
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
               CASE WHEN w.op IS NULL THEN v.service ELSE v.to_service END,
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

-- The call of the version before: each appointment keeps the service it has (a server of the
-- version before never changes one).
CREATE OR REPLACE FUNCTION move_appointments(
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
    o_notice BIGINT[],
    o_key_since BIGINT[]
) RETURNS SETOF batch_answer
LANGUAGE sql
AS $$
    SELECT * FROM move_appointments(o_id, o_actor, o_key, o_fingerprint, t_resource,
                                    ARRAY(SELECT a.service
                                          FROM unnest(o_id) WITH ORDINALITY AS o(id, op)
                                          LEFT JOIN appointments a ON a.id = o.id
                                          ORDER BY o.op),
                                    t_capacity, t_start, t_end, t_occupied, t_timely, o_now,
                                    o_notice, o_key_since)
$$;
