-- The generation of the records `/bc-authorize` caches (clients and users,
-- docs/architecture.md, "The record cache"): every change to a row of either
-- table, by this server or by another process (the operator's CLI), moves
-- it on, and the request writer's job compares it with the generation its
-- cached records were read at, inside the transaction that stores the
-- request. SQLite only: PostgreSQL runs no request writer and caches
-- nothing (its triggers are left out, store/migrations.rs).
CREATE TABLE record_generation (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO record_generation (id, n) VALUES (1, 0);
-- triggers: SQLite
CREATE TRIGGER clients_inserted AFTER INSERT ON clients BEGIN UPDATE record_generation SET n = n + 1; END;
CREATE TRIGGER clients_updated AFTER UPDATE ON clients BEGIN UPDATE record_generation SET n = n + 1; END;
CREATE TRIGGER clients_deleted AFTER DELETE ON clients BEGIN UPDATE record_generation SET n = n + 1; END;
CREATE TRIGGER users_inserted AFTER INSERT ON users BEGIN UPDATE record_generation SET n = n + 1; END;
CREATE TRIGGER users_updated AFTER UPDATE ON users BEGIN UPDATE record_generation SET n = n + 1; END;
CREATE TRIGGER users_deleted AFTER DELETE ON users BEGIN UPDATE record_generation SET n = n + 1; END;
-- end of triggers
