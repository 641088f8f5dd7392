DROP INDEX `usage_status`;--> statement-breakpoint
CREATE INDEX `usage_pending` ON `usage` (`status`) WHERE "usage"."status" = 'pending';