-- The service's one-statement booking alone, for pgbench (docs/performance.md, "Fewer
-- statements inside the booking"): one call of `book_first_free` per transaction, for a slot
-- drawn at random from a billion on one of 20 capacity-1 resources, with no candidate but
-- that one. Run against a database the service has migrated (`booking-http migrate`):
--   pgbench -n -c 8 -j 2 -T 8 -f crates/booking-bench/wrk/pgbench-function.sql "$DATABASE_URL"
-- The last three arguments are the actor its history entry names and the client's email and
-- phone (none here); databases migrated before 2026-12-03-000011 (no contact details) take the
-- call without the last two, and before 2026-12-03-000009 (no history) without the actor too.
\set slot random(1, 1000000000)
SELECT * FROM book_first_free(
    ARRAY['r' || (:slot % 20)], ARRAY[1],
    ARRAY[:slot::BIGINT * 1800], ARRAY[:slot::BIGINT * 1800 + 1800],
    ARRAY[(:slot::BIGINT * 1800)::TEXT], ARRAY[NULL::TEXT],
    gen_random_uuid()::TEXT, 'pgbench', NULL, 0, NULL, 'client', NULL, NULL);
