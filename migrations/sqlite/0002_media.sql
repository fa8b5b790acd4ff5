-- Media: per-extension recording, media apps, and the recordings table (SQLite).
-- Keep in step with migrations/postgres/0002_media.sql. Booleans are INTEGER 0/1.

ALTER TABLE extensions ADD COLUMN record INTEGER NOT NULL DEFAULT 0 CHECK (record IN (0, 1));

-- Numbers the switch answers itself; `steps` is the JSON array of the app's steps.
CREATE TABLE apps (
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    number      TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    record      INTEGER NOT NULL DEFAULT 0 CHECK (record IN (0, 1)),
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
    duration_ms  INTEGER NOT NULL,
    size_bytes   INTEGER NOT NULL,
    rate         INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX recordings_by_call_id ON recordings (call_id);
