-- Wrong `user_code`s sent to /bc-authorize (CIBA Core §7.1.2), counted per
-- user and per client within a window (Limits::user_code_window_secs) so the
-- code cannot be guessed without limit. Rows older than the window are
-- deleted by the sweeper. Same statements on PostgreSQL.
CREATE TABLE user_code_failures (
    sub         TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    failed_at   BIGINT NOT NULL
);
CREATE INDEX user_code_failures_sub ON user_code_failures (sub, failed_at);
CREATE INDEX user_code_failures_client ON user_code_failures (client_id, failed_at);
