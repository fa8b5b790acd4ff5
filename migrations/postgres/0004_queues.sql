-- ACD queues (docs/dialplans.md, "[[accounts.queues]]"): `definition` is the queue as JSON
-- (strategy, members, timers). Agents' live state (logged in, paused) is kept in memory.
-- Keep in step with migrations/sqlite/0004_queues.sql: same tables and columns.

CREATE TABLE queues (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    definition  TEXT NOT NULL,
    PRIMARY KEY (account_id, id)
);
