-- One row that /readyz rewrites: a server whose database cannot take a write (a full disk, a
-- read-only file) is not ready, though it can still read.
CREATE TABLE readiness (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
) STRICT;
INSERT INTO readiness (id, checked_at) VALUES (1, 0);
