-- The event log (docs/ARCHITECTURE.md, "Events"): every event the switch published, by
-- its id (`seq`: 1, 2, 3 … and never reused, so a restarted switch goes on after the
-- last one), with its account, time and JSON as `/events` shows it. Written in batches
-- by one writer task; read by readers that resume (`Last-Event-ID`) from an older id
-- than the switch still holds in memory. `event_seq.reserved` is the highest id a running
-- switch may hand out (reserved in blocks ahead of use): a restart starts above it, so an
-- id seen by a reader before a crash is never given to another event.
-- Keep in step with the other backend's 0006_event_log.sql: same table and columns.

CREATE TABLE event_log (
    seq         BIGINT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    payload     TEXT NOT NULL
);

CREATE INDEX event_log_account ON event_log (account_id, seq);

CREATE TABLE event_seq (
    id        INTEGER NOT NULL PRIMARY KEY,
    reserved  BIGINT NOT NULL
);

INSERT INTO event_seq (id, reserved) VALUES (1, 0);
