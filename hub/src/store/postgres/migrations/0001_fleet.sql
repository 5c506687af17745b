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

-- Fleet tuning hints: one ClassAggregate (JSON) per class key.
CREATE TABLE tuning_hints (
    class_key text COLLATE "C" PRIMARY KEY,
    aggregate text NOT NULL
);

-- The config push retained on each scope's topic, as the ingest saw it (PushRecord as JSON).
CREATE TABLE config_pushes (
    scope text COLLATE "C" PRIMARY KEY,
    push  text NOT NULL
);
