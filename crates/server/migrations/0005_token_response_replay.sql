-- A repeated token request (docs/server.md, "POST /token"): the exact bytes of
-- the token response of a redeemed `auth_req_id`, kept for a short window so
-- that the client it was issued to gets the same response again when the
-- first one was lost (the server died after the redemption committed, the
-- connection dropped). Never a second grant: the stored bytes are replayed,
-- nothing is minted or recorded.
--
-- `token_response`: base64url(nonce || AES-256-GCM ciphertext and tag) under
-- a key derived from the server's secret key file (never stored in the
-- database), with the request id as associated data, so a copy of the
-- database alone opens nothing and a ciphertext moved to another request
-- does not open. `token_response_until`: end of the window (unix seconds,
-- exclusive); the response is gone from then on, and the sweeper clears both
-- columns. Same statements on PostgreSQL.
ALTER TABLE auth_requests ADD COLUMN token_response TEXT;
ALTER TABLE auth_requests ADD COLUMN token_response_until BIGINT;

-- The sweeper seeks the stored responses whose window has ended.
CREATE INDEX auth_requests_token_response ON auth_requests (token_response_until)
    WHERE token_response_until IS NOT NULL;
