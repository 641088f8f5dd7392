CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"user" text NOT NULL,
	"handle" text,
	"key_hash" text NOT NULL,
	"prefix" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"revoked_at" timestamp (3) with time zone,
	CONSTRAINT "api_keys_key_hash_unique" UNIQUE("key_hash")
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"target" text NOT NULL,
	"outcome" text NOT NULL,
	"status" integer NOT NULL,
	"request_id" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "quotas" (
	"user" text PRIMARY KEY NOT NULL,
	"daily_usd" double precision,
	"monthly_usd" double precision,
	"requests_per_minute" integer,
	"updated_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "spend" (
	"user" text PRIMARY KEY NOT NULL,
	"day_start" bigint NOT NULL,
	"day_usd" double precision NOT NULL,
	"month_start" bigint NOT NULL,
	"month_usd" double precision NOT NULL,
	"reserved_usd" double precision NOT NULL,
	"minute_start" bigint NOT NULL,
	"minute_calls" integer NOT NULL,
	"prev_minute_calls" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "usage" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"user" text NOT NULL,
	"handle" text,
	"key_id" text,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"stream" boolean NOT NULL,
	"input_tokens" integer NOT NULL,
	"output_tokens" integer NOT NULL,
	"cache_read_tokens" integer NOT NULL,
	"cache_write_tokens" integer NOT NULL,
	"cost_usd" double precision NOT NULL,
	"status" text NOT NULL,
	"http_status" integer NOT NULL,
	"duration_ms" integer NOT NULL,
	"trace_id" text NOT NULL,
	"reserved_usd" double precision
);
--> statement-breakpoint
CREATE INDEX "usage_user_at" ON "usage" USING btree ("user","at");--> statement-breakpoint
CREATE INDEX "usage_at" ON "usage" USING btree ("at");--> statement-breakpoint
CREATE INDEX "usage_pending" ON "usage" USING btree ("status") WHERE "usage"."status" = 'pending';