-- Enterprise admins (docs/server.md "Administration", docs/protocol.md §10).

-- The audit log: append-only, each entry hash-chained to the one before.
-- `hash` = base64url(SHA-256(JCS({seq, at, actor, action, target, sub,
-- data, prev}))), where `prev` is the previous entry's hash ("" for the
-- first) and `data` the parsed JSON of the `data` column. `audit verify`
-- walks the chain; an export carries a JWS over its last entry.
CREATE TABLE audit_log (
    seq     INTEGER PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT,
    sub     TEXT,
    data    TEXT NOT NULL,
    hash    TEXT NOT NULL
);
-- No index besides `seq`: the filters of the admin API walk back from the
-- newest entry (docs/performance.md), since each index would cost every
-- stored request more written pages (the throughput issue).

-- An administrator's block of one client for one user (a block for
-- everyone disables the client, `clients.disabled`).
CREATE TABLE client_user_blocks (
    client_id   TEXT NOT NULL REFERENCES clients (client_id),
    sub         TEXT NOT NULL REFERENCES users (sub),
    blocked_at  BIGINT NOT NULL,
    blocked_by  TEXT NOT NULL,
    PRIMARY KEY (client_id, sub)
);

-- Who cancelled a request (an administrator's device, `device:<device_id>`),
-- so the agent hears why; NULL for the other cancellations.
ALTER TABLE auth_requests ADD COLUMN cancelled_by TEXT;

-- The grants list: a user's or a client's tokens, newest first.
CREATE INDEX tokens_sub_issued ON tokens (sub, issued_at);
CREATE INDEX tokens_client_issued ON tokens (client_id, issued_at);
CREATE INDEX tokens_issued ON tokens (issued_at, jti);
