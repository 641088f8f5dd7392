CREATE TABLE `containers` (
	`handle` text PRIMARY KEY NOT NULL,
	`owner` text NOT NULL,
	`image` text NOT NULL,
	`spec` text NOT NULL,
	`state` text NOT NULL,
	`container_id` text,
	`created_at` integer NOT NULL,
	`expires_at` integer
);
