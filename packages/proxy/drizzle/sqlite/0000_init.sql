CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`user` text NOT NULL,
	`handle` text,
	`key_hash` text NOT NULL,
	`prefix` text NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_key_hash_unique` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE TABLE `quotas` (
	`user` text PRIMARY KEY NOT NULL,
	`daily_usd` real,
	`monthly_usd` real,
	`requests_per_minute` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `usage` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`user` text NOT NULL,
	`handle` text,
	`key_id` text,
	`provider` text NOT NULL,
	`model` text NOT NULL,
	`stream` integer NOT NULL,
	`input_tokens` integer NOT NULL,
	`output_tokens` integer NOT NULL,
	`cache_read_tokens` integer NOT NULL,
	`cache_write_tokens` integer NOT NULL,
	`cost_usd` real NOT NULL,
	`status` text NOT NULL,
	`http_status` integer NOT NULL,
	`duration_ms` integer NOT NULL,
	`trace_id` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `usage_user_at` ON `usage` (`user`,`at`);--> statement-breakpoint
CREATE INDEX `usage_at` ON `usage` (`at`);