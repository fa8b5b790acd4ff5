-- Callflows, voicemail and the provisioning version.
-- Callflows: what a business number does (docs/dialplans.md, "[[accounts.callflows]]").
-- `definition` is the flow as JSON (number, name, DIDs, start node, nodes).
-- Keep in step with migrations/sqlite/0003_callflows.sql: same tables, columns and indexes.

CREATE TABLE callflows (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    number      TEXT NOT NULL,
    name        TEXT NOT NULL,
    definition  TEXT NOT NULL,
    PRIMARY KEY (account_id, number)
);

-- Bumped by every dialplan import that changes a row: a running switch rebuilds its
-- directory (and compiled callflows) when it sees a new version.
CREATE TABLE provisioning (
    id       INTEGER NOT NULL PRIMARY KEY,
    version  BIGINT  NOT NULL
);
INSERT INTO provisioning (id, version) VALUES (1, 0);

-- Voicemail: the owner's PIN, and the messages left in each extension's box.
ALTER TABLE extensions ADD COLUMN voicemail_pin TEXT;

CREATE TABLE voicemails (
    id           TEXT    NOT NULL PRIMARY KEY,
    account_id   TEXT    NOT NULL,
    box          TEXT    NOT NULL,
    caller       TEXT    NOT NULL,
    call_id      TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    duration_ms  BIGINT  NOT NULL,
    heard        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT  NOT NULL
);
CREATE INDEX voicemails_by_box ON voicemails (account_id, box, created_at);

-- IVR audit: every key a caller pressed in a menu (or the menu timing out) and where the
-- call went, appended as it happens.
CREATE TABLE ivr_audit (
    id          TEXT   NOT NULL PRIMARY KEY,
    account_id  TEXT   NOT NULL,
    call_id     TEXT   NOT NULL,
    flow        TEXT   NOT NULL,
    node        TEXT   NOT NULL,
    input       TEXT   NOT NULL,
    outcome     TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX ivr_audit_by_call ON ivr_audit (call_id);
