-- One booking in one statement, with none of the service's rules: take a place in a slot of
-- capacity 1 (the counter refuses to pass it) and insert the appointment. Slots are drawn at
-- random from a billion, so clients rarely meet on one.
\set slot random(1, 1000000000)
WITH taken AS (
    INSERT INTO pgbench_slots AS s VALUES ('r' || (:slot % 20), :slot, 1)
    ON CONFLICT (resource, start_at) DO UPDATE SET booked = s.booked + 1 WHERE s.booked < 1
    RETURNING resource, start_at
)
INSERT INTO pgbench_bookings (resource, start_at, client_name)
SELECT resource, start_at, 'pgbench' FROM taken;
