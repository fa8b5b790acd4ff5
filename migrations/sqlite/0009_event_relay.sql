-- Several switch nodes (docs/webhooks.md, "Several nodes"): each event records the node
-- that published it, and `event_relay` how far each node's events were handed to the
-- NATS JetStream stream (and when the node was last alive), so another node can hand on
-- what a node that died had stored but not yet published.
-- Keep in step with the other backend's 0009_event_relay.sql: same tables and columns.

ALTER TABLE event_log ADD COLUMN node_id TEXT;

CREATE INDEX event_log_node ON event_log (node_id, seq);

CREATE TABLE event_relay (
    node_id         TEXT NOT NULL PRIMARY KEY,
    published_upto  BIGINT NOT NULL,
    heartbeat_at    BIGINT NOT NULL
);
