-- The client's contact details, both optional: an email address and a phone number in E.164
-- (the server checks their syntax; the database their bounds). Idempotency records keep them
-- too, so that a replay answers the appointment as its write left it.
ALTER TABLE appointments ADD COLUMN email TEXT
    CHECK (email IS NULL OR length(email) BETWEEN 3 AND 254);
ALTER TABLE appointments ADD COLUMN phone TEXT
    CHECK (phone IS NULL OR (substr(phone, 1, 1) = '+' AND length(phone) BETWEEN 8 AND 16));
ALTER TABLE idempotency_records ADD COLUMN email TEXT;
ALTER TABLE idempotency_records ADD COLUMN phone TEXT;
