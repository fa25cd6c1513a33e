ALTER TABLE idempotency_records DROP COLUMN phone;
ALTER TABLE idempotency_records DROP COLUMN email;
ALTER TABLE appointments DROP COLUMN phone;
ALTER TABLE appointments DROP COLUMN email;
