CREATE TABLE "stored_responses" (
	"id" text PRIMARY KEY NOT NULL,
	"user" text NOT NULL,
	"upstream" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "usage" ADD COLUMN "reasoning_tokens" integer DEFAULT 0 NOT NULL;