-- Listings read the usage of a span of time across resources. These covering indexes answer
-- that read from the index alone; without them it scans every slot ever booked or held.
CREATE INDEX occupancy_by_start ON occupancy (start_at, resource, booked);
CREATE INDEX hold_slots_by_start ON hold_slots (start_at, expires_at, resource);
