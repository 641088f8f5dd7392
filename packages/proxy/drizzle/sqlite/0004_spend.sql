CREATE TABLE `spend` (
	`user` text PRIMARY KEY NOT NULL,
	`day_start` integer NOT NULL,
	`day_usd` real NOT NULL,
	`month_start` integer NOT NULL,
	`month_usd` real NOT NULL,
	`reserved_usd` real NOT NULL,
	`minute_start` integer NOT NULL,
	`minute_calls` integer NOT NULL,
	`prev_minute_calls` integer NOT NULL
);
