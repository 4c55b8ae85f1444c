CREATE TABLE "frequency_caps" (
	"id" uuid PRIMARY KEY NOT NULL,
	"api_client_id" uuid NOT NULL,
	"max" integer NOT NULL,
	"per" text NOT NULL,
	"per_seconds" integer NOT NULL,
	"scope" text NOT NULL,
	"topic" text,
	"template" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "bypass_frequency_cap" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "frequency_caps" ADD CONSTRAINT "frequency_caps_api_client_id_api_clients_id_fk" FOREIGN KEY ("api_client_id") REFERENCES "public"."api_clients"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "frequency_caps_tenant_idx" ON "frequency_caps" USING btree ("api_client_id","id");