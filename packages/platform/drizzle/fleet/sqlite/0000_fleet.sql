CREATE TABLE `fleet_containers` (
	`handle` text PRIMARY KEY NOT NULL,
	`host` text NOT NULL,
	`memory_mb` integer NOT NULL,
	`view` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `fleet_hosts` (
	`host` text PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`engine_up` integer NOT NULL,
	`seen_at` integer NOT NULL
);
