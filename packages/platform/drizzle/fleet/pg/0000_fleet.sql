CREATE TABLE "fleet_containers" (
	"handle" text PRIMARY KEY NOT NULL,
	"host" text NOT NULL,
	"memory_mb" bigint NOT NULL,
	"view" jsonb NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "fleet_hosts" (
	"host" text PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"engine_up" boolean NOT NULL,
	"seen_at" bigint NOT NULL
);
