-- The proxy's own database (database_url): the schemas `strangler` (flags,
-- history, replicas, mismatches, dual-write intents, guard windows and
-- events) and `samples` (the Go samples service's tables and its outbox),
-- both owned by the proxy's role, so that `strangler migrate` creates and
-- alters their tables itself. Run it connected to that database, as its
-- owner or a superuser:
--
--   psql -v ON_ERROR_STOP=1 -v role=strangler -d strangler -f deploy/sql/10-proxy-database.sql
--
-- The migrations say CREATE SCHEMA IF NOT EXISTS, which PostgreSQL checks
-- against CREATE on the database even when the schema exists: hence the
-- database grant. With the legacy tables in this same database, also run
-- 20-legacy-database.sql here.
GRANT CONNECT, TEMPORARY, CREATE ON DATABASE :"DBNAME" TO :"role";
CREATE SCHEMA IF NOT EXISTS strangler AUTHORIZATION :"role";
CREATE SCHEMA IF NOT EXISTS samples AUTHORIZATION :"role";
-- Schemas that existed before (created by someone else): hand them over.
ALTER SCHEMA strangler OWNER TO :"role";
ALTER SCHEMA samples OWNER TO :"role";
-- Nothing else is needed here: LISTEN/NOTIFY (flag changes), advisory locks
-- (migrations, guard trips, per-sample copies) and SET LOCAL of the
-- custom setting strangler.copying need no privilege.
