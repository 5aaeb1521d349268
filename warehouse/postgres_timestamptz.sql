-- Make every timestamp column that target-postgres created `timestamp with time zone`, once, after the first load.
--
-- meltanolabs-target-postgres (up to 0.8.1 at least) maps JSON Schema date-time to `timestamp without time zone`.
-- The tap's timestamps are UTC, and meltano.yml pins the target's session to UTC (PGTZ), so the stored values are
-- UTC wall-clock times; this converts them to `timestamptz` without changing the instants they denote. Later loads
-- keep the converted type: the target only widens a column when the new type is incompatible.
--
--   psql "$DATABASE_URL" -v schema=openproject -f warehouse/postgres_timestamptz.sql
--
-- Columns added later (a new stream, a new date-time custom field) arrive as `timestamp`: run it again then.
SELECT set_config('tap_openproject.schema', :'schema', false);
DO $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT table_name, column_name
        FROM information_schema.columns
        WHERE table_schema = current_setting('tap_openproject.schema')
          AND data_type = 'timestamp without time zone'
    LOOP
        EXECUTE format(
            'ALTER TABLE %I.%I ALTER COLUMN %I TYPE timestamp with time zone USING %I AT TIME ZONE ''UTC''',
            current_setting('tap_openproject.schema'), col.table_name, col.column_name, col.column_name
        );
    END LOOP;
END
$$;
