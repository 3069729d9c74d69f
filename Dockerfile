FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY prisma.config.ts ./
RUN npm ci --no-audit --no-fund
COPY . .
# The `sessions` command as plain JavaScript (npm ci ran before the sources were here).
RUN node scripts/build-cli.mjs --optional
# The dashboard and explorer pages (dist/web), for the same reason.
RUN node scripts/build-web.mjs --optional
EXPOSE 4000
# The service applies pending migrations at start (MIGRATE_ON_START=false turns that off).
CMD ["node", "--import", "tsx", "src/main.ts"]
