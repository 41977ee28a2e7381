-- Admin access and the operations console (package admin, issue 8).

-- API tokens for machines (`strangler token create`). Only the SHA-256 of a
-- token is kept; the token itself is shown once, when it is created. Every
-- token expires. A revoked token keeps its row (who revoked it, when); its
-- name may then be given to a new token.
CREATE TABLE strangler.admin_tokens (
	id          bigserial PRIMARY KEY,
	name        text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
	role        text NOT NULL CHECK (role IN ('viewer', 'engineer', 'sre', 'admin')),
	hash        bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
	created_at  timestamptz NOT NULL DEFAULT now(),
	created_by  text NOT NULL,
	expires_at  timestamptz NOT NULL,
	revoked_at  timestamptz,
	revoked_by  text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX admin_tokens_live_name ON strangler.admin_tokens (name) WHERE revoked_at IS NULL;

-- Accepted differences declared at run time (from the console's mismatch
-- explorer or the admin API), on top of the configured shadow.accepted
-- list. Every replica's shadower re-reads the live ones. A removed one
-- keeps its row.
CREATE TABLE strangler.shadow_accepted (
	id          bigserial PRIMARY KEY,
	route       text NOT NULL,
	procedure   text NOT NULL DEFAULT '',
	path        text NOT NULL,
	reason      text NOT NULL CHECK (reason <> ''),
	owner       text NOT NULL CHECK (owner <> ''),
	expires_at  timestamptz NOT NULL,
	-- The mismatch record it was declared from (records are deleted by
	-- retention, so this is no foreign key).
	record_id   bigint,
	created_at  timestamptz NOT NULL DEFAULT now(),
	created_by  text NOT NULL,
	removed_at  timestamptz,
	removed_by  text NOT NULL DEFAULT ''
);
CREATE INDEX shadow_accepted_live ON strangler.shadow_accepted (route) WHERE removed_at IS NULL;

-- Settings changed at run time through the admin API (guard: {"enabled":
-- bool}), read by every replica.
CREATE TABLE strangler.admin_settings (
	key         text PRIMARY KEY,
	value       jsonb NOT NULL,
	changed_at  timestamptz NOT NULL DEFAULT now(),
	changed_by  text NOT NULL,
	reason      text NOT NULL
);

-- Every write through the admin API and the token CLI that is not a flag
-- change (those are in flag_history): who, when, what, why.
CREATE TABLE strangler.admin_audit (
	id      bigserial PRIMARY KEY,
	at      timestamptz NOT NULL DEFAULT now(),
	actor   text NOT NULL,
	action  text NOT NULL,
	subject text NOT NULL DEFAULT '',
	reason  text NOT NULL DEFAULT '',
	detail  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX admin_audit_at ON strangler.admin_audit (at DESC);
