-- Automatic rollback guards (package guard, issue 7).

-- Per-second counts of each replica, per route, tRPC procedure ('' for
-- other routes and for shadow comparisons) and side: the new side, legacy,
-- or 'shadow' (comparisons of the route's calls). Each replica adds what it
-- counted since its last flush (several flushes of one second add up); the
-- evaluators sum a window over every replica, so three replicas see what one
-- would. hist counts latencies in the fixed buckets of guard.LatencyBounds
-- (the last element is everything slower). Rows older than guard.retention
-- are deleted.
CREATE TABLE strangler.guard_samples (
	route         text NOT NULL,
	second        bigint NOT NULL, -- unix seconds of the replica's clock
	procedure     text NOT NULL DEFAULT '',
	side          text NOT NULL CHECK (side IN ('legacy', 'new', 'shadow')),
	replica       text NOT NULL,
	requests      bigint NOT NULL DEFAULT 0,
	failures      bigint NOT NULL DEFAULT 0, -- errors that count
	normal_errors bigint NOT NULL DEFAULT 0, -- errors the contract makes normal answers
	client_errors bigint NOT NULL DEFAULT 0, -- validation and other 4xx: never count
	compared      bigint NOT NULL DEFAULT 0,
	mismatched    bigint NOT NULL DEFAULT 0,
	hist          bigint[] NOT NULL,
	PRIMARY KEY (route, second, procedure, side, replica)
);
CREATE INDEX guard_samples_second ON strangler.guard_samples (second);

-- Legacy's error rate per procedure and p99 latency per route (procedure
-- '') the last time legacy served enough of them: the baseline of a route
-- that legacy no longer serves.
CREATE TABLE strangler.guard_baselines (
	route       text NOT NULL,
	procedure   text NOT NULL DEFAULT '',
	requests    bigint NOT NULL,
	failures    bigint NOT NULL,
	p99_ms      double precision NOT NULL DEFAULT 0,
	measured_at timestamptz NOT NULL,
	PRIMARY KEY (route, procedure)
);

-- One row per automatic rollback. trip_key is the write group (or the route
-- when it has none) and flag_version the version of the route's flag the
-- decision was taken on: replicas that trip the same thing at the same time,
-- or replay a trip made while the database was down, write one row.
CREATE TABLE strangler.guard_events (
	id             bigserial PRIMARY KEY,
	at             timestamptz NOT NULL,
	replica        text NOT NULL,
	route          text NOT NULL,
	trip_key       text NOT NULL,
	rolled_back    text[] NOT NULL,
	signal         text NOT NULL,
	value          double precision NOT NULL,
	threshold      double precision NOT NULL,
	window_seconds double precision NOT NULL,
	samples        bigint NOT NULL,
	flag_version   bigint NOT NULL,
	detail         text NOT NULL DEFAULT '',
	UNIQUE (trip_key, flag_version)
);
CREATE INDEX guard_events_route_at ON strangler.guard_events (route, at DESC);
