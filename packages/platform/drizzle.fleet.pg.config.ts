import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/fleet/schema.ts',
  out: './drizzle/fleet/pg',
});
