CREATE TABLE `releases` (
	`handle` text PRIMARY KEY NOT NULL,
	`since` integer NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text
);
--> statement-breakpoint
ALTER TABLE `containers` ADD `desired` text DEFAULT 'running' NOT NULL;--> statement-breakpoint
ALTER TABLE `containers` ADD `restarts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `containers` ADD `last_exit` text;