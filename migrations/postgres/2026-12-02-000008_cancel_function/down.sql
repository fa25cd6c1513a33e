DROP FUNCTION cancel_appointment;
