-- Queue agents' own choices, so they outlive a restart (or a kill -9): a dynamic
-- login (`*45<queue>`: state 'in'), a static member's logout (`*46`: state 'out'),
-- one row per queue; and a pause with its reason (queue_id '', state 'paused').
-- Written by the queue driver after each change, read once at start-up.
-- Keep in step with the other backend's 0005_agent_states.sql: same table and columns.

CREATE TABLE agent_states (
    account_id  TEXT NOT NULL,
    extension   TEXT NOT NULL,
    queue_id    TEXT NOT NULL,
    state       TEXT NOT NULL,
    reason      TEXT,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, extension, queue_id)
);
