-- User verification (docs/protocol.md §8.1, §8.3).

-- How the person who decided was verified: RFC 8176 `amr` values,
-- space-separated, sorted; NULL or empty when the decision shows none.
-- Copied into the tokens of an approved request.
ALTER TABLE auth_requests ADD COLUMN amr TEXT;

-- A client's user verification policy: from which risk its approvals need
-- user verification (`never` or a risk) and the least verification class
-- (`user` or `hwk`); NULL: the server's setting.
ALTER TABLE clients ADD COLUMN user_verification_at TEXT;
ALTER TABLE clients ADD COLUMN user_verification_class TEXT;
