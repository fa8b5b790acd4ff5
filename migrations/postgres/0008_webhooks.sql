-- Webhook subscriptions (docs/webhooks.md): what an account asked to be told, where,
-- and how far delivery got. `cursor` is the newest event id every earlier event of
-- which is settled for this subscription (delivered, given up on, or waiting in
-- `webhook_pending`): a restarted switch goes on after it. `secret` is the signing
-- secret encrypted at rest (never returned after create or rotate); `old_secret` signs
-- too until `old_secret_until` (a rotation's grace period).
-- `webhook_pending`: deliveries waiting for a retry (`due_at`), or held behind an earlier
-- event of the same call (`due_at` NULL), or asked to be replayed.
-- `webhook_attempts`: every delivery attempt, for the attempts log.
-- Keep in step with the other backend's 0008_webhooks.sql: same tables and columns.

CREATE TABLE webhooks (
    id                   TEXT NOT NULL PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    uri                  TEXT NOT NULL,
    hook                 TEXT NOT NULL,
    http_verb            TEXT NOT NULL,
    format               TEXT NOT NULL,
    retries              BIGINT NOT NULL,
    enabled              BOOLEAN NOT NULL,
    include_subaccounts  BOOLEAN NOT NULL,
    custom_data          TEXT,
    modifiers            TEXT,
    secret               TEXT NOT NULL,
    old_secret           TEXT,
    old_secret_until     BIGINT,
    disabled_reason      TEXT,
    failures             BIGINT NOT NULL DEFAULT 0,
    cursor               BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    modified_at          BIGINT NOT NULL
);

CREATE INDEX webhooks_account ON webhooks (account_id);

CREATE TABLE webhook_pending (
    webhook_id  TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_seq   BIGINT NOT NULL,
    order_key   TEXT NOT NULL,
    attempts    BIGINT NOT NULL,
    due_at      BIGINT,
    replay      BOOLEAN NOT NULL,
    PRIMARY KEY (webhook_id, event_seq, replay)
);

CREATE TABLE webhook_attempts (
    id           TEXT NOT NULL PRIMARY KEY,
    webhook_id   TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    account_id   TEXT NOT NULL,
    event_seq    BIGINT NOT NULL,
    event_name   TEXT NOT NULL,
    attempt      BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    result       TEXT NOT NULL,
    status_code  BIGINT,
    latency_ms   BIGINT NOT NULL,
    error        TEXT,
    response     TEXT,
    retries_left BIGINT NOT NULL
);

CREATE INDEX webhook_attempts_hook ON webhook_attempts (webhook_id, at);
CREATE INDEX webhook_attempts_time ON webhook_attempts (at);
