import { defineConfig } from 'drizzle-kit';

// One folder per dialect; `bunx drizzle-kit generate` here, then with `--config drizzle.pg.config.ts`.
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/schema/*.ts',
  out: './drizzle/sqlite',
});
