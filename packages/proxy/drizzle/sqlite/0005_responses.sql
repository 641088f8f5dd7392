CREATE TABLE `stored_responses` (
	`id` text PRIMARY KEY NOT NULL,
	`user` text NOT NULL,
	`upstream` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `usage` ADD `reasoning_tokens` integer DEFAULT 0 NOT NULL;