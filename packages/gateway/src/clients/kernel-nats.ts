import { AppError, type Command, type EventBus, streams, subjects } from '@beacon/core';
import type { KernelTransport } from './kernel-transport';

/** Commands into the BEACON_COMMANDS stream on beacon.<handle>.commands; the kernel answers over the bus. */
export function createNatsTransport(bus: EventBus): KernelTransport {
  /** Into the commands stream, or a 503 at once: never a command that only looks sent. */
  async function publish(
    handle: string,
    command: Command | { type: 'cancel'; taskId: string },
    traceId: string,
    traceparent: string,
  ) {
    try {
      await bus.publishDurable(subjects.commands(handle), command, {
        traceId,
        traceparent,
        stream: streams.commands,
      });
    } catch (err) {
      throw new AppError(
        'unavailable',
        'the message bus (NATS) is unavailable: the message was not sent; try again',
        { 'retry-after': '5' },
        err,
      );
    }
  }
  return {
    name: 'nats',
    async send(handle, command, { traceparent, accepted }) {
      await publish(handle, command, command.traceId, traceparent);
      accepted();
    },
    cancel: (handle, taskId, traceId, traceparent) =>
      publish(handle, { type: 'cancel', taskId }, traceId, traceparent),
  };
}
