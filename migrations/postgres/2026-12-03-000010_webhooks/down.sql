DROP TRIGGER webhook_deliveries_of_history ON appointment_history;
DROP FUNCTION queue_webhook_deliveries();
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
