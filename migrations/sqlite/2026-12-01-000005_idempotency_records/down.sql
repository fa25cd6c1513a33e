-- The earlier version stored rendered answers, which SQL cannot write: its keys start empty,
-- so a retry sent across a downgrade is done again.
DROP INDEX idempotency_records_by_age;
DROP TABLE idempotency_records;
CREATE TABLE idempotency_keys (
    key         TEXT    PRIMARY KEY NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint TEXT    NOT NULL,
    status      INTEGER NOT NULL CHECK (status BETWEEN 200 AND 299),
    body        TEXT    NOT NULL,
    location    TEXT,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
