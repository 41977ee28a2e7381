-- The legacy app's database (legacy_database_url, or database_url when the
-- legacy tables live there too): what the dual writes need on the legacy
-- tables of the samples write group (schema public, legacy contract
-- section 8). Run it connected to that database, as a superuser (the
-- parameter grant needs one):
--
--   psql -v ON_ERROR_STOP=1 -v role=strangler -d nanopore -f deploy/sql/20-legacy-database.sql
--
-- Who reads and writes what (internal/dualwrite):
-- * shadow/canary (legacy primary): converge reads legacy's rows by id and
--   copies them into the samples schema; the recovery sweep reads
--   nanopore_samples by submitted_at; backfill and reconcile read all four
--   tables.
-- * new mode: the relay writes the legacy tables exactly as the samples
--   service stored them (INSERT ... ON CONFLICT DO UPDATE, which also needs
--   SELECT; DELETE of rows the service deleted, child rows first).
-- * reconcile --repair copies in either direction.
-- The legacy app keeps owning its tables; the proxy gets no DDL on them.
GRANT CONNECT ON DATABASE :"DBNAME" TO :"role";
GRANT USAGE ON SCHEMA public TO :"role";
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE
    public.nanopore_samples,
    public.nanopore_processing_steps,
    public.nanopore_sample_details,
    public.nanopore_attachments
    TO :"role";
-- The relay's transactions say SET LOCAL session_replication_role = replica
-- so that legacy's updated_at trigger does not rewrite the copied
-- timestamps (and so that no lock legacy waits on is taken to switch the
-- trigger off). Ordinary roles may not set this parameter; PostgreSQL 15
-- lets a superuser grant exactly that. It also switches off foreign-key
-- checks for that transaction only, which is why the relay deletes child
-- rows itself. On PostgreSQL 14 or older the role would have to be a
-- superuser: use PostgreSQL 15.
GRANT SET ON PARAMETER session_replication_role TO :"role";
