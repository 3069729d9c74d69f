import { defineConfig } from 'prisma/config';

// The Prisma CLI is used only for `prisma generate` (no database needed) and,
// on machines where Prisma's native schema engine can be downloaded, for
// `prisma migrate deploy`. Migrations are otherwise applied by
// src/store/migrate.ts with the Wasm schema engine.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: {
    url: process.env['DATABASE_URL'] ?? 'postgresql://postgres@127.0.0.1:5432/sessions',
  },
});
