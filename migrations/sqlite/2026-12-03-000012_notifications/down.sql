DROP TRIGGER notifications_of_history;
DROP TABLE notifications;
DROP TABLE notification_reminders;
DROP TABLE notification_plan;
