-- One row that /readyz rewrites: a server whose database cannot take a write (a full disk, a
-- read-only standby) is not ready, though it can still read.
CREATE TABLE readiness (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    checked_at BIGINT  NOT NULL
);
INSERT INTO readiness (id, checked_at) VALUES (1, 0);
