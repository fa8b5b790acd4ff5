-- Who answered a call (the extension of the agent or ring-group member that
-- took it), so an extension's recent calls include the queue and ring-group
-- calls it answered, recorded under the number the caller dialled.
ALTER TABLE cdrs ADD COLUMN answered_by TEXT;
