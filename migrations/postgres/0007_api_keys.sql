-- Account API keys (`switchyard key create --account ID --type developer|user|merchant`):
-- only the SHA-256 of a key is kept; the key itself is printed once, when it is made.
-- Keep in step with the other backend's 0007_api_keys.sql: same table and columns.

CREATE TABLE api_keys (
    id          TEXT NOT NULL PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    label       TEXT,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE INDEX api_keys_account ON api_keys (account_id);
