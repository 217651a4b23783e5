-- Where each `advisor-bot serve` listens (bot/infra/server_addresses.py): `advisor-bot console
-- link` builds its link on the port the server on the same machine was started with, instead of
-- assuming 8000. A row is written at start and removed at a clean stop; one left by a crash is
-- ignored once nothing listens on its port.
CREATE TABLE IF NOT EXISTS running_servers (
    host_name text NOT NULL,
    port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    pid integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host_name, port)
);
