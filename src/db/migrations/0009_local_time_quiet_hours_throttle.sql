CREATE TABLE "tenant_settings" (
	"api_client_id" uuid PRIMARY KEY NOT NULL,
	"default_time_zone" text,
	"quiet_hours" jsonb,
	"throttle_per_minute" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "deliveries" ADD COLUMN "not_before" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "timing" jsonb;--> statement-breakpoint
ALTER TABLE "profiles" ADD COLUMN "quiet_hours" jsonb;--> statement-breakpoint
ALTER TABLE "tenant_settings" ADD CONSTRAINT "tenant_settings_api_client_id_api_clients_id_fk" FOREIGN KEY ("api_client_id") REFERENCES "public"."api_clients"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "deliveries_waiting_idx" ON "deliveries" USING btree ("not_before") WHERE "deliveries"."status" = 'waiting';--> statement-breakpoint
CREATE INDEX "profiles_quiet_hours_idx" ON "profiles" USING btree ("api_client_id") WHERE "profiles"."quiet_hours" is not null and "profiles"."deleted_at" is null;