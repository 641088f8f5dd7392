ALTER TABLE `usage` ADD `reserved_usd` real;--> statement-breakpoint
CREATE INDEX `usage_status` ON `usage` (`status`);