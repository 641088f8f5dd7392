-- WITHOUT ROWID added by hand (drizzle-kit does not write it): the primary key is the table, no second index.
CREATE TABLE `sample_minutes` (
	`handle` text NOT NULL,
	`minute` integer NOT NULL,
	`n` integer NOT NULL,
	`cpu_avg` real,
	`cpu_max` real,
	`mem_avg` real NOT NULL,
	`mem_max` integer NOT NULL,
	`mem_limit` integer NOT NULL,
	`rx_avg` real,
	`tx_avg` real,
	`pids_max` integer NOT NULL,
	PRIMARY KEY(`handle`, `minute`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `samples` (
	`handle` text NOT NULL,
	`at` integer NOT NULL,
	`cpu` real,
	`mem` integer NOT NULL,
	`mem_limit` integer NOT NULL,
	`rx` real,
	`tx` real,
	`pids` integer NOT NULL,
	PRIMARY KEY(`handle`, `at`)
) WITHOUT ROWID;
