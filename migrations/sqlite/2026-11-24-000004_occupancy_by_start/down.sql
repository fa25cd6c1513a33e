DROP INDEX hold_slots_by_start;
DROP INDEX occupancy_by_start;
