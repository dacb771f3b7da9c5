-- Fatigue control counts, on every /bc-authorize, the user's recent `not_me`
-- denials of the client. Without an index for it the count walked all of the
-- user's requests (rows are kept): with 5,000 past requests per user,
-- /bc-authorize fell from about 1,200 to under 100 per second
-- (docs/performance.md, "Server"). Partial: only `not_me` denials are
-- indexed, so it costs other writes nothing. Same statement on PostgreSQL.
CREATE INDEX auth_requests_not_me ON auth_requests (sub, client_id, decided_at) WHERE deny_reason = 'not_me';
