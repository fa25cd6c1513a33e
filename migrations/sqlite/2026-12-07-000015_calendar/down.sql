DROP TABLE calendar_overrides;
DROP TABLE calendar_performers;
DROP TABLE calendar_services;
DROP TABLE calendar_resources;
DROP TABLE calendar;
