-- The merchant API (v1, docs/merchant-api.md): merchant keys' paired secrets; each
-- account's delivery mode; merchants with their limits, credits and usage per period;
-- consents with their whole history; the dispatch queue of messages with each one's
-- lifecycle; what the simulator handed off; payments for upgrades; alerts; and the
-- messaging (10DLC) records: brands, campaigns, numbers.
-- Keep in step with the postgres backend's 0012_merchant.sql: same tables and columns.

-- SHA-256 of a merchant key's secret (X-API-SECRET); NULL for other keys.
ALTER TABLE api_keys ADD COLUMN secret_hash TEXT;

-- mode: SIMULATOR (default) or LIVE; sms_provider: twilio, telnyx or NULL (SIP only).
CREATE TABLE delivery_settings (
    account_id        TEXT PRIMARY KEY,
    mode              TEXT NOT NULL,
    sms_provider      TEXT,
    sim_failure_rate  REAL NOT NULL DEFAULT 0,
    updated_at        BIGINT NOT NULL
);

CREATE TABLE merchants (
    pk                   INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id           TEXT NOT NULL,
    merchant_id          TEXT NOT NULL,
    display_name         TEXT NOT NULL,
    active               INTEGER NOT NULL DEFAULT 1,
    sms_limit            BIGINT NOT NULL DEFAULT 0,
    voice_minutes_limit  BIGINT NOT NULL DEFAULT 0,
    email_limit          BIGINT NOT NULL DEFAULT 0,
    sms_credits          BIGINT NOT NULL DEFAULT 0,
    voice_credits        BIGINT NOT NULL DEFAULT 0,
    email_credits        BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    UNIQUE (account_id, merchant_id)
);

-- period: the first day of the month (YYYY-MM-DD, UTC).
CREATE TABLE merchant_usage (
    merchant_pk  BIGINT NOT NULL,
    period       TEXT NOT NULL,
    sms_used     BIGINT NOT NULL DEFAULT 0,
    voice_used   BIGINT NOT NULL DEFAULT 0,
    email_used   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (merchant_pk, period)
);

-- Every change is a row; a contact's consent is its latest row.
CREATE TABLE consents (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_pk  BIGINT NOT NULL,
    channel      TEXT NOT NULL,
    contact      TEXT NOT NULL,
    status       TEXT NOT NULL,
    source       TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX consents_contact ON consents (merchant_pk, channel, contact, id);

-- The dispatch queue and each message's current state.
CREATE TABLE merchant_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    TEXT NOT NULL,
    merchant_pk   BIGINT NOT NULL,
    channel       TEXT NOT NULL,
    msg_type      TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    payload       TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    lease_until   BIGINT,
    lease_owner   TEXT,
    provider      TEXT,
    provider_ref  TEXT,
    cost_micros   BIGINT,
    units         BIGINT NOT NULL DEFAULT 1,
    -- its place in the admission batch that inserted it (to pair ids with requests)
    batch_index   BIGINT,
    final         INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX merchant_messages_due ON merchant_messages (status, next_at);
CREATE INDEX merchant_messages_account ON merchant_messages (account_id, created_at);
CREATE INDEX merchant_messages_provider ON merchant_messages (provider, provider_ref);

CREATE TABLE message_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    status      TEXT NOT NULL,
    provider    TEXT,
    detail      TEXT
);
CREATE INDEX message_events_message ON message_events (message_id, id);

-- What the simulator was handed (its outcome fixed at hand-off, revealed later).
CREATE TABLE simulated_messages (
    message_id  BIGINT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    channel     TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    body        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX simulated_messages_account ON simulated_messages (account_id, created_at);

CREATE TABLE payments (
    id                 TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL,
    merchant_pk        BIGINT NOT NULL,
    channel            TEXT NOT NULL,
    units              BIGINT NOT NULL,
    amount_cents       BIGINT NOT NULL,
    currency           TEXT NOT NULL,
    payment_method_id  TEXT,
    reference_id       TEXT,
    note               TEXT,
    status             TEXT NOT NULL,
    fulfilled          INTEGER NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    settled_at         BIGINT
);

-- dedup_key: one alert per condition (a merchant's channel in a period at a threshold, ...).
CREATE TABLE merchant_alerts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   TEXT NOT NULL,
    merchant_pk  BIGINT,
    kind         TEXT NOT NULL,
    severity     TEXT NOT NULL,
    channel      TEXT,
    message      TEXT NOT NULL,
    dedup_key    TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL
);
CREATE INDEX merchant_alerts_account ON merchant_alerts (account_id, id);

-- kind: BRAND, CAMPAIGN, NUMBER; parent_id: a campaign's brand, a number's campaign.
CREATE TABLE messaging_records (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL,
    merchant_pk    BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    parent_id      TEXT,
    data           TEXT NOT NULL,
    status         TEXT NOT NULL,
    status_reason  TEXT,
    advance_at     BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX messaging_records_merchant ON messaging_records (merchant_pk, kind);
