-- Answers to requests that carried an Idempotency-Key, written in the same transaction as the
-- change they describe, so a retry gets the first answer and the work is never done twice.
CREATE TABLE idempotency_keys (
    key         TEXT    PRIMARY KEY NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint TEXT    NOT NULL,
    status      INTEGER NOT NULL CHECK (status BETWEEN 200 AND 299),
    body        TEXT    NOT NULL,
    location    TEXT,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
