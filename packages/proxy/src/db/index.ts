import { join } from 'node:path';
import { type Logger, openStore } from '@beacon/core';
import { apiKeys, apiKeysPg } from './schema/api-keys';
import { auditLog, auditLogPg } from './schema/audit';
import { quotas, quotasPg } from './schema/quotas';
import { storedResponses, storedResponsesPg } from './schema/responses';
import { spend, spendPg } from './schema/spend';
import { usage, usagePg } from './schema/usage';

export const schema = { apiKeys, quotas, usage, spend, auditLog, storedResponses };
const pgSchema = {
  apiKeys: apiKeysPg,
  quotas: quotasPg,
  usage: usagePg,
  spend: spendPg,
  auditLog: auditLogPg,
  storedResponses: storedResponsesPg,
};

/** The proxy's store: PostgreSQL when `url` is one, else SQLite at `path`. */
export const openDatabase = (path: string, url?: string, log?: Logger) =>
  openStore({
    url,
    path,
    log,
    migrations: join(import.meta.dir, '../../drizzle'),
    sqlite: schema,
    pg: pgSchema,
  });

export type ProxyStore = ReturnType<typeof openDatabase>;

/** Where replicas tell each other a quota or a key changed (PostgreSQL NOTIFY; in-process on SQLite). */
export const CHANGES_CHANNEL = 'beacon_proxy_changes';
/** A cached quota or key is read again after this long even if no change was heard (a lost notification). */
export const CACHE_TTL_MS = 10_000;
