DROP TABLE appointment_history;
