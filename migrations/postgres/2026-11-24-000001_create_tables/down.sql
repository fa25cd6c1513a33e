DROP TABLE idempotency_keys;
DROP TABLE closures;
DROP TABLE hold_slots;
DROP TABLE holds;
DROP TABLE occupancy;
DROP TABLE appointment_slots;
DROP TABLE appointments;
DROP FUNCTION canceled_appointments_are_final();
