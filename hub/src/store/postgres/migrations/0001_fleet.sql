-- Migration 0001: the fleet store (hub/src/store/postgres). Applied once, in one transaction,
-- recorded in schema_migrations. Never edit an applied migration: add the next number.
--
-- Text keys sort as bytes (COLLATE "C"), as redb orders them, so listings match the redb backend.

-- Every sequenced record once per (rig, seq). `seq` is the agent's u64 counter stored bit for bit
-- (values past 2^63 read negative); `ts_ms` is the sample time, clamped to 2^63-1 for the index
-- (the exact value is in the envelope); `envelope` is the payload as the agent published it.
CREATE TABLE records (
    rig      text COLLATE "C" NOT NULL,
    seq      bigint NOT NULL,
    ts_ms    bigint NOT NULL,
    kind     text COLLATE "C" NOT NULL,
    envelope bytea NOT NULL,
    PRIMARY KEY (rig, seq)
);
-- A listing of one kind reads only that kind's records (as redb's records_by_kind).
CREATE INDEX records_by_kind ON records (rig, kind, ts_ms, seq);

-- The rig registry: the domain's RigEntry as JSON (hub-internal, free to evolve).
CREATE TABLE rigs (
    rig   text COLLATE "C" PRIMARY KEY,
    entry text NOT NULL
);

-- Seed 004's tuning telemetry (hub/src/telem): per contribution id (a random telemetry id the
-- agent keeps, or "legacy") and configuration key a moving average (telem::aggregate's
-- Contribution as JSON); per configuration the aggregate recomputed from them; and the ids
-- forgotten on request, so snapshots still on their way are refused. No rig id, host, address
-- or wallet is ever written here; a snapshot's own record row has no kind and no bytes.
CREATE TABLE telem_contributions (
    who          text COLLATE "C" NOT NULL,
    config_key   text COLLATE "C" NOT NULL,
    contribution text NOT NULL,
    PRIMARY KEY (who, config_key)
);
CREATE INDEX telem_by_config ON telem_contributions (config_key, who);
CREATE TABLE telem_aggregates (
    config_key text COLLATE "C" PRIMARY KEY,
    aggregate  text NOT NULL
);
CREATE TABLE telem_forgotten (
    who   text COLLATE "C" PRIMARY KEY,
    at_ms bigint NOT NULL
);

-- The config push retained on each scope's topic, as the ingest saw it (PushRecord as JSON).
CREATE TABLE config_pushes (
    scope text COLLATE "C" PRIMARY KEY,
    push  text NOT NULL
);
