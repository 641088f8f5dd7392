import type { BusKind, Command } from '@beacon/core';

export interface SendOptions {
  /** The dispatch span's W3C trace context. */
  traceparent: string;
  signal: AbortSignal;
  /** The kernel's side has the command (stored in the stream, or taken by the kernel). */
  accepted: () => void;
  /** A message the kernel answered on this transport itself (HTTP); over NATS they come through the bus. */
  message: (kind: BusKind, data: unknown) => void;
}

/**
 * How a command reaches a handle's kernel, chosen once in deps.ts: `nats` (the commands stream; answers come
 * back over the bus) or `http` (POST to the kernel, answered as a stream). `send` resolves once the transport
 * has delivered everything it will; a refusal rejects it.
 */
export interface KernelTransport {
  readonly name: 'nats' | 'http';
  send(handle: string, command: Command, options: SendOptions): Promise<void>;
  /** Tell the kernel to stop a task (asked by a caller, or past its deadline); it answers `cancelled`. */
  cancel(handle: string, taskId: string, traceId: string, traceparent: string): Promise<void>;
}
