import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CliDriver, RunContext } from './driver';

/** Codex's item types that are tool calls, by the name the result's toolsUsed gives them. */
const TOOL_ITEMS: Record<string, string> = {
  command_execution: 'shell',
  file_change: 'apply_patch',
  web_search: 'web_search',
};
type Item = { type?: string; text?: string; server?: string; tool?: string };
const toolOf = (item: Item) =>
  item.type === 'mcp_tool_call' ? `mcp:${item.server}/${item.tool}` : TOOL_ITEMS[item.type ?? ''];

/**
 * Codex CLI (`codex exec --json`): a provider whose base URL is the proxy, written into CODEX_HOME in the
 * workspace (its sessions live there too), with the dispatch's trace id sent on every call. It runs with
 * neither approvals nor its own sandbox: the container is the sandbox.
 */
export function codexDriver(bin = 'codex'): CliDriver {
  const home = (ctx: RunContext) => join(ctx.workspace, '.codex');
  let written = '';
  const config = (ctx: RunContext) => {
    const toml = [
      'model_provider = "beacon"',
      '[model_providers.beacon]',
      'name = "Beacon"',
      `base_url = ${JSON.stringify(`${ctx.proxyUrl.replace(/\/$/, '')}/v1`)}`,
      'env_key = "OPENAI_API_KEY"',
      'wire_api = "responses"',
      '[model_providers.beacon.env_http_headers]',
      '"x-beacon-trace-id" = "BEACON_TRACE_ID"',
      'traceparent = "BEACON_TRACEPARENT"',
    ].join('\n');
    const file = join(home(ctx), 'config.toml');
    if (written === file + toml) return;
    mkdirSync(home(ctx), { recursive: true });
    writeFileSync(file, `${toml}\n`);
    written = file + toml;
  };
  return {
    name: 'codex',
    defaultModel: 'gpt-5-codex',
    argv(ctx, resume) {
      config(ctx);
      const flags = ['--json', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox'];
      const model = ['-m', ctx.model ?? this.defaultModel];
      // The prompt ('-') is read from stdin: no length limit, and no text taken for a flag.
      return [bin, 'exec', ...flags, ...model, ...(resume ? ['resume', resume] : []), '-'];
    },
    env: (ctx) => ({
      CODEX_HOME: home(ctx),
      OPENAI_API_KEY: ctx.key,
      BEACON_TRACE_ID: ctx.traceId,
      ...(ctx.traceparent ? { BEACON_TRACEPARENT: ctx.traceparent } : {}),
    }),
    reader() {
      let lastError = '';
      return (event) => {
        const item = (event.item ?? {}) as Item;
        switch (event.type) {
          case 'thread.started':
            return [{ session: String(event.thread_id) }];
          case 'item.started': {
            const name = toolOf(item);
            return name ? [{ tool: { name, phase: 'started' } }] : [];
          }
          case 'item.completed': {
            if (item.type === 'agent_message' && item.text) return [{ delta: item.text, final: item.text }];
            const name = toolOf(item);
            return name ? [{ tool: { name, phase: 'ended' } }] : [];
          }
          case 'error':
            lastError = String(event.message ?? '');
            return [];
          case 'turn.failed':
            return [
              { failure: String((event.error as { message?: string } | undefined)?.message ?? lastError) },
            ];
          default:
            return [];
        }
      };
    },
  };
}
