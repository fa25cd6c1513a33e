-- An idempotency key remembers a domain record, not a rendered HTTP answer: the operation it
-- made, the request's fingerprint, and the appointment as that write left it (`occupied` holds
-- the starts of its slots, in seconds, comma-separated). Whoever answers renders a replay from
-- the record exactly as it rendered the first outcome.
CREATE TABLE idempotency_records (
    key            TEXT    PRIMARY KEY NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    operation      TEXT    NOT NULL CHECK (operation IN ('book', 'cancel', 'reschedule')),
    fingerprint    TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    appointment_id TEXT    NOT NULL CHECK (length(appointment_id) = 36),
    client_name    TEXT    NOT NULL,
    notes          TEXT,
    resource       TEXT    NOT NULL,
    service        TEXT,
    start_at       INTEGER NOT NULL,
    end_at         INTEGER NOT NULL,
    occupied       TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('scheduled', 'canceled')),
    booked_at      INTEGER NOT NULL,
    changed_at     INTEGER NOT NULL
) STRICT;

-- Keys stored before keep working: each record is read back from the answer it stored, which
-- carried the appointment as written; only its slots come from the appointment as it is now.
INSERT INTO idempotency_records
SELECT key,
       CASE WHEN fingerprint LIKE 'POST /schedule%' THEN 'book'
            WHEN fingerprint LIKE 'POST /cancel/%' THEN 'cancel'
            ELSE 'reschedule' END,
       fingerprint,
       created_at,
       json_extract(body, '$.appointment.id'),
       json_extract(body, '$.appointment.client_name'),
       json_extract(body, '$.appointment.notes'),
       json_extract(body, '$.appointment.resource'),
       json_extract(body, '$.appointment.service'),
       unixepoch(json_extract(body, '$.appointment.start')),
       unixepoch(json_extract(body, '$.appointment.end')),
       coalesce(
           (SELECT group_concat(s.start_at, ',' ORDER BY s.start_at) FROM appointment_slots s
            WHERE s.appointment_id = json_extract(body, '$.appointment.id')),
           unixepoch(json_extract(body, '$.appointment.start'))
       ),
       json_extract(body, '$.appointment.status'),
       unixepoch(json_extract(body, '$.appointment.created_at')),
       unixepoch(json_extract(body, '$.appointment.updated_at'))
FROM idempotency_keys
WHERE json_valid(body) AND json_extract(body, '$.appointment.id') IS NOT NULL;

DROP INDEX idempotency_keys_by_age;
DROP TABLE idempotency_keys;
CREATE INDEX idempotency_records_by_age ON idempotency_records (created_at);
