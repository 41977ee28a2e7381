-- Shadow comparison (package shadow, issue 5).

-- One row per mismatching call (a tRPC procedure, or a whole answer):
-- sampled and capped per route and hour by each replica, redacted before it
-- is written (a redacted value reads <redacted>), deleted by the retention
-- job after shadow.record.retention.
CREATE TABLE strangler.shadow_mismatches (
	id              bigserial PRIMARY KEY,
	at              timestamptz NOT NULL DEFAULT now(),
	replica         text NOT NULL DEFAULT '',
	request_id      text NOT NULL DEFAULT '',
	route           text NOT NULL,
	procedure       text NOT NULL DEFAULT '',
	primary_side    text NOT NULL CHECK (primary_side IN ('legacy', 'new')),
	method          text NOT NULL,
	path            text NOT NULL,
	query           text NOT NULL DEFAULT '',
	input           text NOT NULL DEFAULT '',
	request_headers jsonb NOT NULL DEFAULT '{}',
	legacy_status   integer NOT NULL,
	new_status      integer NOT NULL,
	legacy_headers  jsonb NOT NULL DEFAULT '{}',
	new_headers     jsonb NOT NULL DEFAULT '{}',
	legacy_body     text NOT NULL DEFAULT '',
	new_body        text NOT NULL DEFAULT '',
	legacy_ms       double precision NOT NULL DEFAULT 0,
	new_ms          double precision NOT NULL DEFAULT 0,
	-- The general paths (indices as [*]) of the mismatching differences,
	-- for grouping; diffs holds every difference with both values.
	paths           text[] NOT NULL,
	diffs           jsonb NOT NULL
);
CREATE INDEX shadow_mismatches_route_at ON strangler.shadow_mismatches (route, at DESC);
CREATE INDEX shadow_mismatches_at ON strangler.shadow_mismatches (at);

-- Paths learnt as noise: they differed between two answers of legacy to
-- the same safe request. Shared by every replica (each reloads the table
-- every shadow.noise_refresh), shown by `strangler diffs`.
CREATE TABLE strangler.shadow_noise (
	route      text NOT NULL,
	procedure  text NOT NULL DEFAULT '',
	path       text NOT NULL,
	first_seen timestamptz NOT NULL DEFAULT now(),
	last_seen  timestamptz NOT NULL DEFAULT now(),
	hits       bigint NOT NULL DEFAULT 1,
	example    text NOT NULL DEFAULT '',
	PRIMARY KEY (route, procedure, path)
);
