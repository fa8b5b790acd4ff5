-- Callflows: what a business number does (docs/dialplans.md, "[[accounts.callflows]]").
-- `definition` is the flow as JSON (number, name, DIDs, start node, nodes).
-- Keep in step with migrations/postgres/0003_callflows.sql: same tables, columns and indexes.

CREATE TABLE callflows (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    number      TEXT NOT NULL,
    name        TEXT NOT NULL,
    definition  TEXT NOT NULL,
    PRIMARY KEY (account_id, number)
);
