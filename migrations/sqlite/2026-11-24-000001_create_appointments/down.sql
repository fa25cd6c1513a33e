DROP TABLE slot_usage;
DROP TRIGGER canceled_appointments_are_final;
DROP INDEX appointments_by_start;
DROP TABLE appointments;
