-- Issue 15: the fingerprint of the server's secret key (a value derived
-- from it under its own HKDF label, which reveals nothing of the keys
-- derived for other uses), recorded at the first start. An instance given
-- another key file (several instances on one PostgreSQL database must share
-- one) refuses to start instead of sealing user codes and token responses
-- the others cannot open.
CREATE TABLE secret_key_check (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
