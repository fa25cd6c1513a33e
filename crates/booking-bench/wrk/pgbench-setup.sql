-- Tables for pgbench.sql: slot counters and appointments, as the service's own have them
-- (gen_random_uuid: PostgreSQL 13 or later).
DROP TABLE IF EXISTS pgbench_slots, pgbench_bookings;
CREATE TABLE pgbench_slots (
    resource TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    booked INTEGER NOT NULL,
    PRIMARY KEY (resource, start_at)
);
CREATE TABLE pgbench_bookings (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    resource TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    client_name TEXT NOT NULL
);
