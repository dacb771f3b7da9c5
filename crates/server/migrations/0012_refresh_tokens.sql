-- Refresh tokens for the CIBA grant (docs/server.md, "Refresh tokens").
--
-- Opaque tokens (`csrt_` + 256 random bits, base64url), stored only as the
-- base64url SHA-256 of the whole token (`token_hash`). A family is the grant:
-- every refresh token issued for one approved request shares its
-- `request_id` (`family`); rotation marks the presented token `used_at` and
-- inserts its successor in the same transaction. Presenting a used token
-- revokes the family (`revoked_at` on every row) and the grant's access
-- tokens. `scope` and `authorization_details` are what was originally
-- granted (RFC 6749 section 6: a refresh may narrow, never widen).
-- `idle_expires_at`: this token's end unless rotated earlier (restarts with
-- each rotation); `expires_at`: the family's absolute end. Same statements
-- on PostgreSQL.
CREATE TABLE refresh_tokens (
    token_hash              TEXT PRIMARY KEY,
    family                  TEXT NOT NULL REFERENCES auth_requests (request_id),
    client_id               TEXT NOT NULL,
    sub                     TEXT NOT NULL,
    scope                   TEXT NOT NULL,
    authorization_details   TEXT NOT NULL,
    issued_at               BIGINT NOT NULL,
    idle_expires_at         BIGINT NOT NULL,
    expires_at              BIGINT NOT NULL,
    used_at                 BIGINT,
    revoked_at              BIGINT
);

-- Revoking a family; disabling a user or a client, blocking a client for a
-- user (live tokens only).
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_sub ON refresh_tokens (sub, client_id) WHERE revoked_at IS NULL;
CREATE INDEX refresh_tokens_client ON refresh_tokens (client_id) WHERE revoked_at IS NULL;
-- The sweeper drops families past their absolute end.
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- A grant's access tokens (revoking a grant, the replay check): a refreshed
-- grant has several.
CREATE INDEX tokens_request ON tokens (request_id);

-- Per-client token policy: whether the client may hold refresh tokens
-- (registered `grant_types` with `refresh_token`, or the operator), and its
-- lifetimes in seconds (NULL: the server's; always capped by the server's
-- maxima when used).
ALTER TABLE clients ADD COLUMN refresh_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN access_token_lifetime BIGINT;
ALTER TABLE clients ADD COLUMN refresh_token_lifetime BIGINT;
ALTER TABLE clients ADD COLUMN refresh_token_idle_lifetime BIGINT;
