-- A move's history entry records the resource and the service it left, beside the time: a
-- move may change both. Entries of other kinds, and moves recorded before, have neither.
ALTER TABLE appointment_history ADD COLUMN from_resource TEXT
    CHECK (from_resource IS NULL OR (kind = 'rescheduled' AND length(from_resource) BETWEEN 1 AND 40));
ALTER TABLE appointment_history ADD COLUMN from_service TEXT
    CHECK (from_service IS NULL OR (from_resource IS NOT NULL AND length(from_service) BETWEEN 1 AND 40));
