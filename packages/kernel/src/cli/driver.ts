/** What one line of an agent CLI's JSON output means to the dispatch. */
export interface AgentEvent {
  /** Text the agent said, passed on as progress. */
  delta?: string;
  tool?: { name: string; phase: 'started' | 'ended' };
  /** The agent's own id of the session (to resume it with the next message of the same sessionId). */
  session?: string;
  /** The answer (the last text the agent said). */
  final?: string;
  /** The agent gave up: why. */
  failure?: string;
}

export interface RunContext {
  workspace: string;
  proxyUrl: string;
  key: string;
  model: string | undefined;
  traceId: string;
  traceparent: string | undefined;
}

/** How the kernel runs one agent CLI: its command line, its environment, and how to read what it prints. */
export interface CliDriver {
  name: 'codex' | 'claude';
  /** The model when BEACON_MODEL is not set. */
  defaultModel: string;
  argv(ctx: RunContext, resume: string | undefined): string[];
  env(ctx: RunContext): Record<string, string>;
  /** A reader for one run (it keeps what the run's earlier lines said). */
  reader(): (event: Record<string, unknown>) => AgentEvent[];
}
