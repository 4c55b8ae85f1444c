DROP INDEX "deliveries_notification_device_idx";--> statement-breakpoint
DROP INDEX "events_event_id_idx";--> statement-breakpoint
ALTER TABLE "deliveries" DROP CONSTRAINT "deliveries_pkey";--> statement-breakpoint
ALTER TABLE "events" DROP CONSTRAINT "events_pkey";--> statement-breakpoint
ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "webhook_deliveries_pkey";--> statement-breakpoint
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_id_created_at_pk" PRIMARY KEY("id","created_at");--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_id_created_at_pk" PRIMARY KEY("id","created_at");--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_id_created_at_pk" PRIMARY KEY("id","created_at");--> statement-breakpoint
CREATE INDEX "notifications_in_flight_idx" ON "notifications" USING btree ("created_at") WHERE "notifications"."status" in ('queued', 'sending');--> statement-breakpoint
CREATE UNIQUE INDEX "deliveries_notification_device_idx" ON "deliveries" USING btree ("notification_id","device_id","created_at");--> statement-breakpoint
CREATE INDEX "events_event_id_idx" ON "events" USING btree ("event_id");;--> statement-breakpoint
-- hand-written below
-- The send path finds a notification's open deliveries by (id, created_at = the notification's created_at), which
-- is how the fan-out writes them from now on. Deliveries written before were stamped with their own insert time:
-- those still open (of a notification queued or sending, or waiting, retrying, pending) get their notification's,
-- which moves no row out of the legacy partition (a notification is never newer than its deliveries).
UPDATE deliveries d SET created_at = n.created_at FROM notifications n
  WHERE n.id = d.notification_id AND d.created_at <> n.created_at
    AND (n.status IN ('queued', 'sending') OR d.status IN ('pending', 'waiting', 'retrying'));
--> statement-breakpoint
-- Converts deliveries, events and webhook_deliveries into tables partitioned by week on created_at (PARTITION
-- BY RANGE). The existing table is not copied: it is renamed <table>_legacy and attached as the partition
-- FROM (MINVALUE) TO (next Monday), so the upgrade moves no rows; its indexes (already rebuilt above for the
-- new keys) are attached to the new parent's indexes as they are. Cost on a large installation: one
-- sequential scan of each table to validate the CHECK that proves the partition bound (the table is locked
-- meanwhile, like the index builds above). An empty table (a fresh install) is dropped instead. Then a DEFAULT
-- partition (the safety net for rows outside every weekly partition) and weekly partitions up to four weeks
-- ahead; the hourly maintenance job keeps creating them (src/db/partitions.repository.ts), and retention drops
-- whole weeks. Partition names: <table>_pYYYYMMDD (the Monday that starts it), <table>_default, <table>_legacy.
DO $$
DECLARE
  t text;
  r record;
  defs text[];
  def text;
  legacy text;
  week_start timestamptz := date_trunc('week', now(), 'UTC');
  bound timestamptz := date_trunc('week', now(), 'UTC') + interval '7 days';
  first_week timestamptz;
  w timestamptz;
BEGIN
  FOREACH t IN ARRAY ARRAY['deliveries', 'events', 'webhook_deliveries'] LOOP
    legacy := t || '_legacy';
    -- The definitions of its indexes (but the primary key's) and foreign keys, with their names.
    defs := ARRAY(
      SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
      WHERE i.indrelid = t::regclass AND NOT i.indisprimary
      UNION ALL
      SELECT format('ALTER TABLE %I ADD CONSTRAINT %I %s', t, c.conname, pg_get_constraintdef(c.oid))
      FROM pg_constraint c WHERE c.conrelid = t::regclass AND c.contype = 'f');
    EXECUTE format('ALTER TABLE %I RENAME TO %I', t, legacy);
    FOR r IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = legacy::regclass LOOP
      EXECUTE format('ALTER INDEX %I RENAME TO %I', r.relname, left(r.relname, 55) || '_legacy');
    END LOOP;
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING IDENTITY) PARTITION BY RANGE (created_at)',
      t, legacy);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY (id, created_at)', t, t || '_id_created_at_pk');
    FOREACH def IN ARRAY defs LOOP
      EXECUTE def;
    END LOOP;
    EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, ''id''), coalesce((SELECT max(id) FROM %I), 0) + 1, false)',
      t, legacy);
    EXECUTE format('ALTER TABLE %I ALTER COLUMN id DROP IDENTITY', legacy);
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', legacy) INTO r;
    IF r.exists THEN
      -- The CHECK proves the bound, so ATTACH does not scan again; it is dropped once attached.
      EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (created_at < %L)', legacy, legacy || '_bound', bound);
      EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)', t, legacy, bound);
      EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', legacy, legacy || '_bound');
      first_week := bound;
    ELSE
      EXECUTE format('DROP TABLE %I', legacy);
      first_week := week_start;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', t || '_default', t);
    w := first_week;
    WHILE w <= week_start + interval '28 days' LOOP
      EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
        t || '_p' || to_char(w AT TIME ZONE 'UTC', 'YYYYMMDD'), t, w, w + interval '7 days');
      w := w + interval '7 days';
    END LOOP;
  END LOOP;
END $$;
