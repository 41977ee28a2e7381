-- The proxy's own schema. Later migrations add flags, history, heartbeats,
-- mismatches, the outbox of secondary writes and guard events.
CREATE SCHEMA IF NOT EXISTS strangler;
