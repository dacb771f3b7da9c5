-- Countersign approver store, version 1.
--
-- Conventions: times are INTEGER unix seconds; JSON is TEXT; every state
-- change is one transaction (see src/store/). Private keys are never here:
-- they live in the OS keychain or the encrypted key files.

-- One row per enrollment: a device of one user at one server.
CREATE TABLE accounts (
    id               TEXT PRIMARY KEY,
    issuer           TEXT NOT NULL,
    device_endpoint  TEXT NOT NULL,
    device_id        TEXT NOT NULL,
    user_sub         TEXT NOT NULL,
    user_name        TEXT NOT NULL,
    roles            TEXT NOT NULL,
    poll_interval    INTEGER NOT NULL,
    key_store        TEXT NOT NULL,
    public_jwk       TEXT NOT NULL,
    last_event_id    TEXT,
    created_at       INTEGER NOT NULL,
    UNIQUE (issuer, device_id)
);

-- Requests as received (request_json is the JSON object exactly as the
-- server sent it, unknown members included) and where they stand locally.
-- status: pending | sending | approved | denied | expired | cancelled |
-- decided_elsewhere | withdrawn | conflict | rejected
CREATE TABLE inbox (
    account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    request_id     TEXT NOT NULL,
    request_json   TEXT NOT NULL,
    status         TEXT NOT NULL,
    status_reason  TEXT,
    expires_at     INTEGER NOT NULL,
    received_at    INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (account_id, request_id)
);
CREATE INDEX inbox_status ON inbox (status, expires_at);

-- Every decision made here: the statement exactly as hashed (JCS text), the
-- signed JWS, and the server's answer once delivered.
-- delivery: queued | delivered | expired | conflict | withdrawn | rejected
CREATE TABLE history (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id       TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    request_id       TEXT NOT NULL,
    decision         TEXT NOT NULL,
    deny_reason      TEXT,
    statement_jcs    TEXT NOT NULL,
    statement_hash   TEXT NOT NULL,
    decision_jws     TEXT NOT NULL,
    decided_at       INTEGER NOT NULL,
    delivery         TEXT NOT NULL,
    server_status    INTEGER,
    server_answer    TEXT,
    delivered_at     INTEGER
);
CREATE INDEX history_request ON history (account_id, request_id);

-- Decisions waiting for delivery. At most one per request: a request has one
-- decision in flight, and its content (decision, deny reason, statement
-- hash) never changes; only the JWS may be re-signed when its 120 s
-- lifetime runs out.
CREATE TABLE outbox (
    account_id       TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    request_id       TEXT NOT NULL,
    history_id       INTEGER NOT NULL REFERENCES history(id) ON DELETE CASCADE,
    submission_json  TEXT NOT NULL,
    expires_at       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    PRIMARY KEY (account_id, request_id)
);

-- Display schemas per issuer and type. schema_json is NULL when only the
-- server's hash is known (from a display_schema_mismatch answer).
CREATE TABLE schema_cache (
    issuer       TEXT NOT NULL,
    detail_type  TEXT NOT NULL,
    schema_hash  TEXT NOT NULL,
    schema_json  TEXT,
    fetched_at   INTEGER NOT NULL,
    PRIMARY KEY (issuer, detail_type)
);
