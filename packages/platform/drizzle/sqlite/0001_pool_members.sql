CREATE TABLE `pool_members` (
	`handle` text PRIMARY KEY NOT NULL,
	`pool` text NOT NULL,
	`status` text NOT NULL,
	`tenant` text,
	`last_tenant` text,
	`updated_at` integer NOT NULL
);
