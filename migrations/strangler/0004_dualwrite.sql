-- Dual writes (package dualwrite, issue 6): the proxy's side of them.

-- One row per write request answered by legacy while a write group keeps
-- legacy primary (shadow, canary, and legacy mode unless turned off). The
-- row is inserted BEFORE the request goes to legacy, so that a proxy killed
-- mid-request leaves a trace a recovery can act on; it is deleted once the
-- new store has been converged to what legacy stored. A failed converge
-- stays pending with its error and is retried with backoff (next_at), then
-- marked dead with the reason. next_at doubles as the lease of the replica
-- handling the request: nobody else touches the row before it passes.
CREATE TABLE strangler.dualwrite_intents (
    id          uuid PRIMARY KEY,
    grp         text NOT NULL,
    request_id  text NOT NULL DEFAULT '',
    replica     text NOT NULL DEFAULT '',
    procedures  text[] NOT NULL,
    -- The request's raw input, capped (for operators; retries only converge).
    input       text NOT NULL DEFAULT '',
    -- Aggregates (samples) known to be affected: from the input at first,
    -- plus the ids legacy's answers created.
    ids         text[] NOT NULL DEFAULT '{}',
    -- Rows of child tables named by the input (table:key), resolved to their
    -- aggregates at converge time.
    refs        text[] NOT NULL DEFAULT '{}',
    -- Creates whose id legacy has not told us (no answer seen yet).
    creates     integer NOT NULL DEFAULT 0,
    answered    boolean NOT NULL DEFAULT false,
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
    attempts    integer NOT NULL DEFAULT 0,
    next_at     timestamptz NOT NULL,
    last_error  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    dead_at     timestamptz
);
CREATE INDEX dualwrite_intents_due ON strangler.dualwrite_intents (next_at) WHERE state = 'pending';
CREATE INDEX dualwrite_intents_dead ON strangler.dualwrite_intents (created_at) WHERE state = 'dead';

-- Backfill progress, one row per write group and table, written in the same
-- transaction as each copied batch, so that a killed backfill resumes after
-- the last batch it committed.
CREATE TABLE strangler.dualwrite_backfill (
    grp         text NOT NULL,
    tbl         text NOT NULL,
    last_key    text NOT NULL DEFAULT '',
    copied      bigint NOT NULL DEFAULT 0,
    skipped     bigint NOT NULL DEFAULT 0,
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (grp, tbl)
);

-- What operators and reconcile did to the dual-write data: each repaired
-- row (kind missing, extra or differs, with the columns and the side copied
-- from), and each outbox row retried or dropped by hand.
CREATE TABLE strangler.dualwrite_audit (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,
    action    text NOT NULL CHECK (action IN ('repair', 'retry', 'drop')),
    grp       text NOT NULL,
    tbl       text NOT NULL DEFAULT '',
    row_key   text NOT NULL DEFAULT '',
    kind      text NOT NULL DEFAULT '',
    columns   text[] NOT NULL DEFAULT '{}',
    source    text NOT NULL DEFAULT '',
    reason    text NOT NULL DEFAULT ''
);
CREATE INDEX dualwrite_audit_at ON strangler.dualwrite_audit (grp, at DESC);
