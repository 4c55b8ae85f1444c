CREATE TABLE "notification_recipients" (
	"notification_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"profile_id" uuid,
	"device_id" uuid,
	"contents" jsonb,
	CONSTRAINT "notification_recipients_notification_id_seq_pk" PRIMARY KEY("notification_id","seq")
);
--> statement-breakpoint
CREATE TABLE "schedules" (
	"id" uuid PRIMARY KEY NOT NULL,
	"api_client_id" uuid NOT NULL,
	"name" text,
	"status" text DEFAULT 'active' NOT NULL,
	"request" jsonb NOT NULL,
	"scheduled_at" timestamp with time zone NOT NULL,
	"recurrence" text DEFAULT 'none' NOT NULL,
	"cron" text,
	"timezone" text DEFAULT 'UTC' NOT NULL,
	"max_occurrences" integer,
	"ends_at" timestamp with time zone,
	"misfire_policy" text DEFAULT 'fire_once' NOT NULL,
	"next_run_at" timestamp with time zone,
	"occurrence_count" integer DEFAULT 0 NOT NULL,
	"last_run_at" timestamp with time zone,
	"last_notification_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "templates" (
	"id" uuid PRIMARY KEY NOT NULL,
	"api_client_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"title" text,
	"body" text,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"options" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"platform_overrides" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"locales" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"is_active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "topic_subscriptions" (
	"topic_id" uuid NOT NULL,
	"device_id" uuid NOT NULL,
	"api_client_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "topic_subscriptions_topic_id_device_id_pk" PRIMARY KEY("topic_id","device_id")
);
--> statement-breakpoint
CREATE TABLE "topics" (
	"id" uuid PRIMARY KEY NOT NULL,
	"api_client_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "notifications" ALTER COLUMN "fanout_cursor" SET DATA TYPE text;--> statement-breakpoint
ALTER TABLE "deliveries" ADD COLUMN "recipient_seq" integer;--> statement-breakpoint
ALTER TABLE "devices" ADD COLUMN "app_version_key" integer[];--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "variants" jsonb;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "template_id" uuid;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "topic_id" uuid;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "schedule_id" uuid;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "occurrence_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "notification_recipients" ADD CONSTRAINT "notification_recipients_notification_id_notifications_id_fk" FOREIGN KEY ("notification_id") REFERENCES "public"."notifications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "schedules" ADD CONSTRAINT "schedules_api_client_id_api_clients_id_fk" FOREIGN KEY ("api_client_id") REFERENCES "public"."api_clients"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "templates" ADD CONSTRAINT "templates_api_client_id_api_clients_id_fk" FOREIGN KEY ("api_client_id") REFERENCES "public"."api_clients"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "topic_subscriptions" ADD CONSTRAINT "topic_subscriptions_topic_id_topics_id_fk" FOREIGN KEY ("topic_id") REFERENCES "public"."topics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "topic_subscriptions" ADD CONSTRAINT "topic_subscriptions_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "topics" ADD CONSTRAINT "topics_api_client_id_api_clients_id_fk" FOREIGN KEY ("api_client_id") REFERENCES "public"."api_clients"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "schedules_due_idx" ON "schedules" USING btree ("next_run_at") WHERE "schedules"."status" = 'active';--> statement-breakpoint
CREATE INDEX "schedules_list_idx" ON "schedules" USING btree ("api_client_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "templates_name_idx" ON "templates" USING btree ("api_client_id","name");--> statement-breakpoint
CREATE INDEX "templates_list_idx" ON "templates" USING btree ("api_client_id","id");--> statement-breakpoint
CREATE INDEX "topic_subscriptions_device_idx" ON "topic_subscriptions" USING btree ("device_id");--> statement-breakpoint
CREATE UNIQUE INDEX "topics_name_idx" ON "topics" USING btree ("api_client_id","name");--> statement-breakpoint
CREATE INDEX "topics_list_idx" ON "topics" USING btree ("api_client_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_occurrence_idx" ON "notifications" USING btree ("schedule_id","occurrence_at") WHERE "notifications"."schedule_id" is not null;--> statement-breakpoint
CREATE INDEX "notifications_topic_idx" ON "notifications" USING btree ("api_client_id","topic_id") WHERE "notifications"."topic_id" is not null;