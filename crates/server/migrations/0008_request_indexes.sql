-- Fewer index pages written per stored request (docs/performance.md, the
-- throughput issue). Every index whose key starts with the user's `sub` takes
-- a page of its own for each request, since a group of requests committed
-- together belongs to many users; three of them become one:
--   auth_requests_sub_status  (sub, status)
--   auth_requests_sub_created (sub, created_at)          the per-user rate
--   auth_requests_pending     (sub, created_ms, request_id) WHERE pending
-- are served by auth_requests_user: the pending ones are one range of it
-- (the cap, the device list's pages), a user's last minute one range per
-- status (the per-user rates).
DROP INDEX auth_requests_sub_status;
DROP INDEX auth_requests_sub_created;
DROP INDEX auth_requests_pending;
CREATE INDEX auth_requests_user ON auth_requests (sub, status, created_ms, request_id);

-- The per-client rate counts in milliseconds, as the per-user one.
DROP INDEX auth_requests_client_created;
CREATE INDEX auth_requests_client_created ON auth_requests (client_id, created_ms);

-- The sweeper's pending requests by expiry, pending ones only: smaller, and
-- no longer a candidate for the per-user statements (with both it and
-- auth_requests_user to choose from, SQLite's planner took this one for the
-- pending cap, reading every user's pending requests).
DROP INDEX auth_requests_status_expires;
CREATE INDEX auth_requests_pending_expiry ON auth_requests (expires_at) WHERE status = 'pending';
