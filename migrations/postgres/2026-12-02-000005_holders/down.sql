DROP INDEX holds_by_expiry;
DROP INDEX holds_by_holder;
ALTER TABLE holds DROP COLUMN holder;
