-- Switchyard initial schema (SQLite).
-- Booleans are INTEGER 0/1 (the sqlx Any driver cannot map SQLite's BOOLEAN
-- declared type); times are unix milliseconds; ids are TEXT.

CREATE TABLE accounts (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    sip_domain  TEXT    NOT NULL UNIQUE,
    is_default  INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1))
);
-- At most one account owns requests addressed to the switch's own IPs.
CREATE UNIQUE INDEX accounts_single_default ON accounts (is_default) WHERE is_default = 1;

CREATE TABLE extensions (
    account_id      TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    number          TEXT    NOT NULL,
    password        TEXT    NOT NULL,
    display_name    TEXT    NOT NULL,
    caller_id       TEXT,
    forward_number  TEXT,
    voicemail       INTEGER NOT NULL DEFAULT 0 CHECK (voicemail IN (0, 1)),
    PRIMARY KEY (account_id, number)
);

CREATE TABLE phone_numbers (
    number      TEXT NOT NULL PRIMARY KEY,
    account_id  TEXT NOT NULL,
    extension   TEXT NOT NULL,
    FOREIGN KEY (account_id, extension)
        REFERENCES extensions (account_id, number) ON DELETE CASCADE
);
CREATE INDEX phone_numbers_by_account ON phone_numbers (account_id, extension);

CREATE TABLE trunks (
    id          TEXT    NOT NULL PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    host        TEXT    NOT NULL,
    port        INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    transport   TEXT    NOT NULL DEFAULT 'udp',
    username    TEXT,
    password    TEXT,
    caller_id   TEXT
);
CREATE INDEX trunks_by_account ON trunks (account_id, id);
CREATE INDEX trunks_by_source ON trunks (host, port);

CREATE TABLE registrations (
    account_id  TEXT    NOT NULL,
    extension   TEXT    NOT NULL,
    contact     TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,
    call_id     TEXT    NOT NULL,
    cseq        INTEGER NOT NULL,
    source      TEXT    NOT NULL,
    user_agent  TEXT,
    instance    TEXT,
    PRIMARY KEY (account_id, extension, contact)
);
CREATE INDEX registrations_by_expiry ON registrations (expires_at);

CREATE TABLE cdrs (
    id            TEXT    NOT NULL PRIMARY KEY,
    call_id       TEXT    NOT NULL,
    account_id    TEXT    NOT NULL,
    caller        TEXT    NOT NULL,
    callee        TEXT    NOT NULL,
    direction     TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    answered_at   INTEGER,
    ended_at      INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    billsec_ms    INTEGER NOT NULL,
    hangup_cause  TEXT    NOT NULL,
    a_leg         TEXT    NOT NULL,
    b_leg         TEXT
);
CREATE INDEX cdrs_by_started ON cdrs (started_at, id);
CREATE INDEX cdrs_by_call_id ON cdrs (call_id);
CREATE INDEX cdrs_by_account ON cdrs (account_id, started_at);
