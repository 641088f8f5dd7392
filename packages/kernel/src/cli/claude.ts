import { join } from 'node:path';
import type { AgentEvent, CliDriver } from './driver';

type Block = { type?: string; id?: string; name?: string; tool_use_id?: string };
type Message = { content?: Block[] | string };

/**
 * Claude Code (`claude -p --output-format stream-json`): ANTHROPIC_BASE_URL is the proxy's root, the trace id
 * goes on every call as a custom header, its sessions live in CLAUDE_CONFIG_DIR in the workspace. Permissions
 * are skipped (IS_SANDBOX lets a root container do so too): the container is the sandbox.
 */
export function claudeDriver(bin = 'claude'): CliDriver {
  return {
    name: 'claude',
    defaultModel: 'claude-sonnet-4-5',
    argv(ctx, resume) {
      const flags = ['-p', '--output-format', 'stream-json', '--verbose', '--include-partial-messages'];
      const model = ['--model', ctx.model ?? this.defaultModel];
      return [
        bin,
        ...flags,
        '--dangerously-skip-permissions',
        ...model,
        ...(resume ? ['--resume', resume] : []),
      ];
    },
    env: (ctx) => ({
      CLAUDE_CONFIG_DIR: join(ctx.workspace, '.claude'),
      ANTHROPIC_BASE_URL: ctx.proxyUrl.replace(/\/$/, ''),
      ANTHROPIC_API_KEY: ctx.key,
      ANTHROPIC_CUSTOM_HEADERS: [
        `x-beacon-trace-id: ${ctx.traceId}`,
        ...(ctx.traceparent ? [`traceparent: ${ctx.traceparent}`] : []),
      ].join('\n'),
      IS_SANDBOX: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
    }),
    reader() {
      const tools = new Map<string, string>();
      const blocks = (m: unknown) => {
        const content = (m as Message | undefined)?.content;
        return Array.isArray(content) ? content : [];
      };
      return (event) => {
        // A sub-agent's own turns (parent_tool_use_id set) are the Task tool's inside, not the answer.
        if (event.parent_tool_use_id) return [];
        switch (event.type) {
          case 'system':
            return event.subtype === 'init' ? [{ session: String(event.session_id) }] : [];
          case 'stream_event': {
            const e = event.event as { type?: string; delta?: { type?: string; text?: string } };
            const text =
              e.type === 'content_block_delta' && e.delta?.type === 'text_delta' ? e.delta.text : '';
            return text ? [{ delta: text }] : [];
          }
          case 'assistant':
            return blocks(event.message)
              .filter((b) => b.type === 'tool_use' && b.name)
              .map((b): AgentEvent => {
                tools.set(b.id ?? '', b.name as string);
                return { tool: { name: b.name as string, phase: 'started' } };
              });
          case 'user':
            return blocks(event.message)
              .filter((b) => b.type === 'tool_result' && tools.has(b.tool_use_id ?? ''))
              .map(
                (b): AgentEvent => ({
                  tool: { name: tools.get(b.tool_use_id ?? '') as string, phase: 'ended' },
                }),
              );
          case 'result':
            return event.is_error || event.subtype !== 'success'
              ? [{ failure: String(event.result ?? event.subtype) }]
              : [{ final: String(event.result ?? '') }];
          default:
            return [];
        }
      };
    },
  };
}
