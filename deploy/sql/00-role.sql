-- The proxy's login role. Run once per PostgreSQL cluster, as a superuser
-- or a role with CREATEROLE:
--
--   psql -v ON_ERROR_STOP=1 -v role=strangler -f deploy/sql/00-role.sql
--   psql -c '\password strangler'      -- never put the password in a file
--
-- One role serves every replica, the CLI (`strangler migrate`, `flip`,
-- `rollback`, `backfill`, `reconcile`, `outbox`) and the relay. It needs no
-- superuser, no CREATEROLE and no CREATEDB.
CREATE ROLE :"role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
