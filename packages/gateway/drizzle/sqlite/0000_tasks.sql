CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`handle` text NOT NULL,
	`status` text NOT NULL,
	`trace_id` text NOT NULL,
	`source` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`body` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `tasks_handle_created` ON `tasks` (`handle`,`created_at`);--> statement-breakpoint
CREATE INDEX `tasks_created` ON `tasks` (`created_at`);