-- 0001_anomalies.sql: the PostgreSQL anomaly store (actors/sink/vg_pg.c).
-- Applied once per database by vg_pg_open under an advisory lock, in one
-- transaction, and recorded in schema_migrations. Never edit an applied
-- migration: add 0002_*.sql.
--
-- anomalies: one row per stored anomaly, partitioned by event time, one
-- partition per UTC day (anomalies_pYYYYMMDD, created ahead and on demand
-- by vg_pg.c, dropped by retention) -- or a TimescaleDB hypertable with
-- daily chunks when that extension can be created. record holds the
-- anomaly's msgpack bytes (vg_anomaly_encode form): what the API returns;
-- every other column is derived from it for filtering and for SQL users.
DO $$
DECLARE
    cols constant text := $cols$
        ts          timestamptz      NOT NULL, -- event time (the transaction's timestamp)
        anomaly_id  bytea            NOT NULL, -- transaction id: bytes, compared bytewise
        user_id     bytea            NOT NULL,
        detected_at timestamptz,               -- wall clock at detection (NULL if out of range)
        score       double precision NOT NULL, -- 0..1
        severity    smallint         NOT NULL, -- 0 low, 1 medium, 2 high, 3 critical
        decision    smallint         NOT NULL, -- 0 allow, 1 review, 2 block
        detectors   text[]           NOT NULL, -- the reasons' detectors
        rules       text[]           NOT NULL, -- features (rule names) of "rule" reasons
        transaction jsonb,                     -- the JSON columns: for SQL users; NULL when
        features    jsonb,                     -- the writer had them off (vg_pg no_json)
        reasons     jsonb,
        record      bytea            NOT NULL, -- msgpack, vg_anomaly_decode reads it back
        PRIMARY KEY (ts, anomaly_id)
    $cols$;
    hyper boolean := false;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
            hyper := true;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'timescaledb cannot be created (%): native partitioning', SQLERRM;
        END;
    END IF;
    IF hyper THEN
        EXECUTE format('CREATE TABLE anomalies (%s)', cols);
        PERFORM create_hypertable('anomalies', 'ts', chunk_time_interval => interval '1 day');
    ELSE
        EXECUTE format('CREATE TABLE anomalies (%s) PARTITION BY RANGE (ts)', cols);
    END IF;
END
$$;

-- Rows are ~2 KB, over the TOAST threshold: compress with lz4 where the
-- server has it (several times cheaper than pglz on the insert path).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE anomalies ALTER COLUMN record SET COMPRESSION lz4,
                              ALTER COLUMN transaction SET COMPRESSION lz4,
                              ALTER COLUMN features SET COMPRESSION lz4,
                              ALTER COLUMN reasons SET COMPRESSION lz4;
    END IF;
END
$$;

-- GET /v1/anomalies?user_id=: walks one user's rows newest first.
CREATE INDEX anomalies_user_ts ON anomalies (user_id, ts, anomaly_id);
-- GET /v1/anomalies/{id}: the id's rows, latest event time first.
CREATE INDEX anomalies_id_ts ON anomalies (anomaly_id, ts);

-- GET /v1/stats/anomalies: counters per minute of event time, kept in the
-- inserting transaction (only rows actually inserted count).
CREATE TABLE anomaly_minutes (
    minute       bigint PRIMARY KEY, -- floor(event time in ms / 60000)
    total        bigint NOT NULL,
    sev_low      bigint NOT NULL,
    sev_medium   bigint NOT NULL,
    sev_high     bigint NOT NULL,
    sev_critical bigint NOT NULL,
    dec_allow    bigint NOT NULL,
    dec_review   bigint NOT NULL,
    dec_block    bigint NOT NULL
);
