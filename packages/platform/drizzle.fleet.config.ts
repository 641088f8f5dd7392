import { defineConfig } from 'drizzle-kit';

// The shared fleet (its own store): `bunx drizzle-kit generate --config` this, then drizzle.fleet.pg.config.ts.
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/fleet/schema.ts',
  out: './drizzle/fleet/sqlite',
});
