ALTER TABLE appointment_history DROP COLUMN from_service;
ALTER TABLE appointment_history DROP COLUMN from_resource;
