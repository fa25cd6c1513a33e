DROP TRIGGER webhook_deliveries_of_history;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
