-- Countersign server schema, version 1.
--
-- Portable SQL: runs on SQLite and PostgreSQL alike, with one exception noted
-- on `events.seq` (the auto-increment key). Conventions: times are BIGINT unix
-- seconds (`*_ms` columns: milliseconds); booleans are BIGINT 0/1; JSON is
-- TEXT; binary values are base64url TEXT. Secrets a client or device presents
-- (client secrets, auth_req_id, enrollment tickets) are stored as SHA-256
-- hashes only.

-- ES256 signing keys of the server (PKCS#8, base64url). The active key has
-- retired_at NULL; retired keys stay in the JWKS while tokens they signed live.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    pkcs8       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);

CREATE TABLE users (
    sub             TEXT PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    email           TEXT UNIQUE,
    name            TEXT NOT NULL,
    roles           TEXT NOT NULL,
    user_code_hash  TEXT,
    disabled        BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);

-- RFC 7591 clients. `metadata` is the registered metadata as returned to the
-- client; the columns below are what the server queries.
CREATE TABLE clients (
    client_id               TEXT PRIMARY KEY,
    secret_hash             TEXT,
    auth_method             TEXT NOT NULL,
    delivery_mode           TEXT NOT NULL,
    notification_endpoint   TEXT,
    request_signing_alg     TEXT,
    user_code_parameter     BIGINT NOT NULL DEFAULT 0,
    jwks                    TEXT,
    jwks_uri                TEXT,
    client_name             TEXT NOT NULL,
    logo_uri                TEXT,
    scope                   TEXT,
    details_types           TEXT NOT NULL,
    metadata                TEXT NOT NULL,
    verified                BIGINT NOT NULL DEFAULT 0,
    disabled                BIGINT NOT NULL DEFAULT 0,
    created_at              BIGINT NOT NULL
);

-- jti replay cache for client assertions (private_key_jwt) and signed
-- request objects, kept until exp.
CREATE TABLE client_jtis (
    client_id   TEXT NOT NULL,
    jti         TEXT NOT NULL,
    exp         BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);

CREATE TABLE devices (
    device_id       TEXT PRIMARY KEY,
    sub             TEXT NOT NULL REFERENCES users (sub),
    public_jwk      TEXT NOT NULL,
    device_name     TEXT NOT NULL,
    platform        TEXT NOT NULL,
    capabilities    TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX devices_sub ON devices (sub);

-- jti replay cache of device-auth proofs, kept until exp.
CREATE TABLE device_jtis (
    device_id   TEXT NOT NULL,
    jti         TEXT NOT NULL,
    exp         BIGINT NOT NULL,
    PRIMARY KEY (device_id, jti)
);

CREATE TABLE enrollment_tickets (
    ticket_hash TEXT PRIMARY KEY,
    sub         TEXT NOT NULL REFERENCES users (sub),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

-- One row per CIBA request. `auth_req_id_hash` is the lookup key of the
-- token endpoint; `notify_auth_req_id` keeps the value itself only for ping
-- and push clients, whose callbacks must carry it.
CREATE TABLE auth_requests (
    request_id              TEXT PRIMARY KEY,
    auth_req_id_hash        TEXT NOT NULL UNIQUE,
    notify_auth_req_id      TEXT,
    notification_token      TEXT,
    client_id               TEXT NOT NULL REFERENCES clients (client_id),
    sub                     TEXT NOT NULL REFERENCES users (sub),
    delivery_mode           TEXT NOT NULL,
    scope                   TEXT NOT NULL,
    binding_message         TEXT NOT NULL,
    authorization_details   TEXT NOT NULL,
    acr_values              TEXT,
    context                 TEXT NOT NULL,
    risk                    TEXT NOT NULL,
    requires                TEXT NOT NULL,
    nonce                   TEXT NOT NULL,
    created_at              BIGINT NOT NULL,
    created_ms              BIGINT NOT NULL,
    expires_at              BIGINT NOT NULL,
    poll_interval           BIGINT NOT NULL,
    last_poll_at            BIGINT,
    status                  TEXT NOT NULL,
    decision                TEXT,
    deny_reason             TEXT,
    decided_at              BIGINT,
    decided_by              TEXT,
    decision_jws            TEXT,
    statement_hash          TEXT,
    display_schemas         TEXT,
    redeemed_at             BIGINT
);
CREATE INDEX auth_requests_sub_status ON auth_requests (sub, status);
CREATE INDEX auth_requests_client_created ON auth_requests (client_id, created_at);
CREATE INDEX auth_requests_sub_created ON auth_requests (sub, created_at);
CREATE INDEX auth_requests_status_expires ON auth_requests (status, expires_at);

-- Issued access tokens (JWTs; only their jti and claims are kept).
CREATE TABLE tokens (
    jti                     TEXT PRIMARY KEY,
    request_id              TEXT NOT NULL REFERENCES auth_requests (request_id),
    client_id               TEXT NOT NULL,
    sub                     TEXT NOT NULL,
    claims                  TEXT NOT NULL,
    issued_at               BIGINT NOT NULL,
    expires_at              BIGINT NOT NULL,
    revoked_at              BIGINT
);

-- The device event log: the source of truth of the SSE streams.
-- PostgreSQL: `seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY`.
CREATE TABLE events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    sub             TEXT NOT NULL,
    kind            TEXT NOT NULL,
    request_id      TEXT,
    data            TEXT NOT NULL,
    exclude_device  TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX events_sub_seq ON events (sub, seq);

-- Ping and push deliveries: one row per request outcome (UNIQUE request_id),
-- processed by the delivery task. `payload` is cleared once delivered.
CREATE TABLE outbox (
    request_id      TEXT PRIMARY KEY REFERENCES auth_requests (request_id),
    client_id       TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    bearer          TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    delivered_at    BIGINT,
    failed_at       BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (delivered_at, failed_at, next_attempt_ms);
