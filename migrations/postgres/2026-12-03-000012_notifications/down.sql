DROP TRIGGER notifications_of_history ON appointment_history;
DROP FUNCTION queue_notifications();
DROP TABLE notifications;
DROP TABLE notification_reminders;
DROP TABLE notification_plan;
