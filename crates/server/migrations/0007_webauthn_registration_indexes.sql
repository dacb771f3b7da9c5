-- Each WebAuthn registration start (docs/protocol.md §5.5) deletes the
-- expired registrations of all users, then counts the user's registrations
-- in progress against `max_pending_webauthn_registrations_per_user` (and
-- reads when the first of them expires, for `Retry-After`). 0006 indexed
-- `webauthn_registrations` by its primary key only, so both walked the whole
-- table. (The count of a user's credentials uses `webauthn_credentials_sub`
-- from 0006.) Same statements on PostgreSQL.
CREATE INDEX webauthn_registrations_sub ON webauthn_registrations (sub, expires_at);
CREATE INDEX webauthn_registrations_expires_at ON webauthn_registrations (expires_at);
