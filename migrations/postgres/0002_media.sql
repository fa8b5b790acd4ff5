-- Media: per-extension recording, media apps, and the recordings table (PostgreSQL).
-- Keep in step with migrations/sqlite/0002_media.sql: same tables, columns and indexes.

ALTER TABLE extensions ADD COLUMN record BOOLEAN NOT NULL DEFAULT FALSE;

-- Numbers the switch answers itself; `steps` is the JSON array of the app's steps.
CREATE TABLE apps (
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    number      TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    record      BOOLEAN NOT NULL DEFAULT FALSE,
    steps       TEXT    NOT NULL,
    PRIMARY KEY (account_id, number)
);

-- One WAV file written for a call (or one channel of it).
CREATE TABLE recordings (
    id           TEXT    NOT NULL PRIMARY KEY,
    account_id   TEXT    NOT NULL,
    call_id      TEXT    NOT NULL,
    channel_id   TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    duration_ms  BIGINT  NOT NULL,
    size_bytes   BIGINT  NOT NULL,
    rate         INTEGER NOT NULL,
    created_at   BIGINT  NOT NULL
);
CREATE INDEX recordings_by_call_id ON recordings (call_id);
