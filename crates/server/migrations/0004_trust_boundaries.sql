-- Trust boundaries (docs/server.md, "Agents, fatigue and limits").
-- Same statements on PostgreSQL.

-- Who vouched for a client, and when (`client verify`).
ALTER TABLE clients ADD COLUMN verified_at BIGINT;
ALTER TABLE clients ADD COLUMN verified_by TEXT;

-- The agent as the approver is shown it, fixed when the request is made:
-- its name and whether it was verified are part of the approval statement,
-- so the server rebuilds the statement from what it sent, not from what the
-- client row says later.
ALTER TABLE auth_requests ADD COLUMN client_name TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN client_verified BIGINT NOT NULL DEFAULT 0;
UPDATE auth_requests SET
    client_name = (SELECT c.client_name FROM clients c WHERE c.client_id = auth_requests.client_id),
    client_verified = (SELECT c.verified FROM clients c WHERE c.client_id = auth_requests.client_id);

-- `not_me` denials of requests from unverified clients, counted per user
-- across every unverified client: past the threshold, every unverified
-- client is blocked for that user until an operator (`client unblock`) or
-- the user lifts it. A row is one block; `lifted_at` ends it.
CREATE TABLE unverified_blocks (
    sub         TEXT NOT NULL REFERENCES users (sub),
    blocked_at  BIGINT NOT NULL,
    lifted_at   BIGINT,
    lifted_by   TEXT
);
CREATE INDEX unverified_blocks_sub ON unverified_blocks (sub, lifted_at);

-- The not_me count of unverified clients seeks this partial index.
CREATE INDEX auth_requests_not_me_unverified ON auth_requests (sub, decided_at)
    WHERE deny_reason = 'not_me' AND client_verified = 0;

-- Pending requests per user (the --max-pending-per-user cap and the device
-- request list's pages).
CREATE INDEX auth_requests_pending ON auth_requests (sub, created_ms, request_id) WHERE status = 'pending';
