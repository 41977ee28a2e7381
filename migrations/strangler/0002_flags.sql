-- Flags: the current mode of every route that has ever been flipped. A route
-- without a row runs its configured default mode.
CREATE TABLE strangler.flags (
	key        text PRIMARY KEY,
	mode       text NOT NULL CHECK (mode IN ('legacy', 'shadow', 'canary', 'new')),
	percent    integer NOT NULL DEFAULT 0 CHECK (percent BETWEEN 0 AND 100),
	version    bigint NOT NULL,
	changed_at timestamptz NOT NULL DEFAULT now(),
	changed_by text NOT NULL,
	reason     text NOT NULL
);

-- Every change of every flag, append-only: who, when, why, before, after.
CREATE TABLE strangler.flag_history (
	id         bigserial PRIMARY KEY,
	key        text NOT NULL,
	version    bigint NOT NULL,
	at         timestamptz NOT NULL DEFAULT now(),
	actor      text NOT NULL,
	reason     text NOT NULL,
	source     text NOT NULL,
	before     jsonb,
	after      jsonb NOT NULL
);
CREATE INDEX flag_history_key_at ON strangler.flag_history (key, at DESC);

-- One version counter for all flags: a replica reports the version it has
-- applied, so that `strangler routes` shows who has seen a change.
CREATE SEQUENCE strangler.flags_version;

-- Replica heartbeats.
CREATE TABLE strangler.replicas (
	id            text PRIMARY KEY,
	hostname      text NOT NULL,
	config_hash   text NOT NULL,
	flags_version bigint NOT NULL,
	started_at    timestamptz NOT NULL,
	seen_at       timestamptz NOT NULL
);
