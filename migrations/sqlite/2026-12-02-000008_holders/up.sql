-- Who asked for each hold (the client's address, an IPv6 client by its /64), so that a write can
-- count a client's active holds against its cap in the same transaction. Kept only while the
-- hold exists; holds made before this migration have none and count for nobody.
ALTER TABLE holds ADD COLUMN holder TEXT;
CREATE INDEX holds_by_holder ON holds (holder, expires_at) WHERE holder IS NOT NULL;
-- The background sweep deletes expired holds, first ended first.
CREATE INDEX holds_by_expiry ON holds (expires_at);
