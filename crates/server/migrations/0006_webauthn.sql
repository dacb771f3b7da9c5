-- WebAuthn credentials of users (docs/protocol.md §5.5), registrations in
-- progress, and the assertion kept with a decision as its receipt.

CREATE TABLE webauthn_credentials (
    -- base64url of the credential id; one user per credential.
    credential_id   TEXT PRIMARY KEY,
    sub             TEXT NOT NULL REFERENCES users (sub),
    name            TEXT NOT NULL,
    -- webauthn-rs `Passkey` (public key, algorithm, counter, flags), JSON.
    passkey         TEXT NOT NULL,
    -- The highest signature counter seen (WebAuthn §6.1.1).
    counter         BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    -- Set when an assertion's counter did not go up: refused from then on.
    flagged_at      BIGINT,
    flag_reason     TEXT
);
CREATE INDEX webauthn_credentials_sub ON webauthn_credentials (sub, created_at);

CREATE TABLE webauthn_registrations (
    registration_id TEXT PRIMARY KEY,
    sub             TEXT NOT NULL REFERENCES users (sub),
    device_id       TEXT NOT NULL REFERENCES devices (device_id),
    -- webauthn-rs `PasskeyRegistration`, JSON (danger-allow-state-serialisation).
    state           TEXT NOT NULL,
    expires_at      BIGINT NOT NULL
);

ALTER TABLE auth_requests ADD COLUMN webauthn_assertion TEXT;
ALTER TABLE auth_requests ADD COLUMN webauthn_credential_id TEXT;

-- From which risk this client's approvals need WebAuthn: a risk, 'never',
-- or NULL for the server's setting (`Config::webauthn_at`).
ALTER TABLE clients ADD COLUMN webauthn_at TEXT;
