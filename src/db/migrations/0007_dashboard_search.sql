DROP INDEX "deliveries_device_idx";--> statement-breakpoint
ALTER TABLE "devices" ADD COLUMN "token_suffix" text;--> statement-breakpoint
CREATE INDEX "devices_token_suffix_idx" ON "devices" USING btree ("api_client_id","token_suffix");--> statement-breakpoint
CREATE INDEX "devices_token_suffix_missing_idx" ON "devices" USING btree ("id") WHERE "devices"."token_suffix" is null;--> statement-breakpoint
CREATE INDEX "events_notification_idx" ON "events" USING btree ("notification_id") WHERE "events"."notification_id" is not null;--> statement-breakpoint
CREATE INDEX "webhook_deliveries_event_id_idx" ON "webhook_deliveries" USING btree ("api_client_id","event_id");--> statement-breakpoint
CREATE INDEX "deliveries_device_idx" ON "deliveries" USING btree ("device_id","id");