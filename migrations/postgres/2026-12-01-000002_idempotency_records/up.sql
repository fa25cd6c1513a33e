-- An idempotency key remembers a domain record, not a rendered HTTP answer: the operation it
-- made, the request's fingerprint, and the appointment as that write left it (`occupied` holds
-- the starts of its slots, in seconds, comma-separated). Whoever answers renders a replay from
-- the record exactly as it rendered the first outcome.
CREATE TABLE idempotency_records (
    key            TEXT    PRIMARY KEY CHECK (char_length(key) BETWEEN 1 AND 255),
    operation      TEXT    NOT NULL CHECK (operation IN ('book', 'cancel', 'reschedule')),
    fingerprint    TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    appointment_id TEXT    NOT NULL CHECK (char_length(appointment_id) = 36),
    client_name    TEXT    NOT NULL,
    notes          TEXT,
    resource       TEXT    NOT NULL,
    service        TEXT,
    start_at       BIGINT  NOT NULL,
    end_at         BIGINT  NOT NULL,
    occupied       TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('scheduled', 'canceled')),
    booked_at      BIGINT  NOT NULL,
    changed_at     BIGINT  NOT NULL
);

-- Keys stored before keep working: each record is read back from the answer it stored, which
-- carried the appointment as written; only its slots come from the appointment as it is now.
INSERT INTO idempotency_records
SELECT key,
       CASE WHEN fingerprint LIKE 'POST /schedule%' THEN 'book'
            WHEN fingerprint LIKE 'POST /cancel/%' THEN 'cancel'
            ELSE 'reschedule' END,
       fingerprint,
       created_at,
       a ->> 'id',
       a ->> 'client_name',
       a ->> 'notes',
       a ->> 'resource',
       a ->> 'service',
       extract(epoch FROM (a ->> 'start')::timestamptz)::bigint,
       extract(epoch FROM (a ->> 'end')::timestamptz)::bigint,
       coalesce(
           (SELECT string_agg(s.start_at::text, ',' ORDER BY s.start_at) FROM appointment_slots s
            WHERE s.appointment_id = a ->> 'id'),
           extract(epoch FROM (a ->> 'start')::timestamptz)::bigint::text
       ),
       a ->> 'status',
       extract(epoch FROM (a ->> 'created_at')::timestamptz)::bigint,
       extract(epoch FROM (a ->> 'updated_at')::timestamptz)::bigint
FROM (SELECT k.*, k.body::jsonb -> 'appointment' AS a FROM idempotency_keys k) stored
WHERE a ->> 'id' IS NOT NULL;

DROP TABLE idempotency_keys;
CREATE INDEX idempotency_records_by_age ON idempotency_records (created_at);
