-- The voice developer API (v3, docs/voice-api.md): user keys bound to an extension and
-- keys limited to scopes, with when each was last used; users' profile fields and
-- numbers' names and SMS/MMS flags from the dialplan; the integer ids (`pk`) the API
-- shows for users, queues and numbers, handed out once per document and never reused;
-- and the responses kept for Idempotency-Key (24 hours).
-- Keep in step with the postgres backend's 0010_voice_api.sql: same tables and columns.

ALTER TABLE api_keys ADD COLUMN extension TEXT;
-- Comma-separated; NULL: every scope of the key's type.
ALTER TABLE api_keys ADD COLUMN scopes TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;

ALTER TABLE extensions ADD COLUMN first_name TEXT;
ALTER TABLE extensions ADD COLUMN last_name TEXT;
ALTER TABLE extensions ADD COLUMN email TEXT;
ALTER TABLE extensions ADD COLUMN time_zone TEXT;

ALTER TABLE phone_numbers ADD COLUMN friendly_name TEXT;
ALTER TABLE phone_numbers ADD COLUMN sms_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE phone_numbers ADD COLUMN mms_enabled INTEGER NOT NULL DEFAULT 0;

-- kind: user (doc_id: extension number), queue (queue id), number (E.164).
CREATE TABLE public_ids (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    doc_id      TEXT NOT NULL,
    UNIQUE (kind, account_id, doc_id)
);

-- scope: the key's id; response NULL while the first request is still running.
CREATE TABLE idempotency_keys (
    scope         TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        BIGINT,
    response      TEXT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
