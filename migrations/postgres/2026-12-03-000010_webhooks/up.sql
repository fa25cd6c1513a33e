-- Webhook endpoints, and the outbox of what to deliver to them. A trigger on the history queues
-- each new entry for every endpoint subscribed to its event, in the transaction that records the
-- entry: every write that changes an appointment records its change there, whichever way it is
-- written, so none of them can change an appointment without queuing its event, or queue an
-- event for a change that rolled back.
CREATE TABLE webhook_endpoints (
    -- The order endpoints were registered in.
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2000),
    -- The event names subscribed to, comma-separated; NULL for every event.
    events TEXT CHECK (events IS NULL OR char_length(events) > 0),
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One history entry queued for one endpoint. Pending until an attempt is answered with a 2xx
-- (delivered) or the retries run out (failed); a worker that claims it leases it until
-- `leased_until`, and counts the attempt as it claims it.
CREATE TABLE webhook_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    entry_id BIGINT NOT NULL REFERENCES appointment_history (id) ON DELETE CASCADE,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at BIGINT,
    leased_until BIGINT,
    last_error TEXT,
    settled_at BIGINT,
    CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL)),
    CHECK ((state = 'pending') = (settled_at IS NULL))
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);
-- What workers look for: each endpoint's oldest pending delivery.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, id)
    WHERE state = 'pending';
-- What the sweep looks for: deliveries settled long ago.
CREATE INDEX webhook_deliveries_settled ON webhook_deliveries (settled_at)
    WHERE settled_at IS NOT NULL;

CREATE FUNCTION queue_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (endpoint_id, entry_id, next_attempt_at)
    SELECT e.id, NEW.id, NEW.made_at FROM webhook_endpoints e
    WHERE e.events IS NULL
       OR ',' || e.events || ',' LIKE '%,appointment.' || NEW.kind || ',%'
    ORDER BY e.seq
    -- An endpoint being deleted meanwhile is waited for and then passed over, instead of
    -- getting a delivery whose foreign key fails the write.
    FOR KEY SHARE OF e;
    RETURN NULL;
END
$$;

CREATE TRIGGER webhook_deliveries_of_history AFTER INSERT ON appointment_history
    FOR EACH ROW EXECUTE FUNCTION queue_webhook_deliveries();
