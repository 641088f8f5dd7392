import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  service: string;
  level?: string;
  destination?: DestinationStream;
}

/**
 * JSON lines: {timestamp, level, service, event, traceId?, ...fields, msg}.
 * Callers pass `event` (e.g. `container.started`) and, within a dispatch, use `log.child({traceId})`.
 */
export function createLogger({ service, level = 'info', destination }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: { service },
      messageKey: 'msg',
      timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['*.authorization', '*.password', '*.secret', '*.token', '*.apiKey'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
