/** One line of a container's log, as the engine's multiplexed stream gives it. */
export interface LogLine {
  stream: 'stdout' | 'stderr';
  timestamp: string;
  message: string;
}

/** Splits NDJSON by lines: a chunk may hold several objects or half of one. */
export class LineSplitter {
  #rest = '';
  push(chunk: string): string[] {
    const lines = (this.#rest + chunk).split('\n');
    this.#rest = lines.pop() ?? '';
    return lines.filter((l) => l.trim() !== '');
  }
}

/** Splits Docker's multiplexed log stream (8-byte frame headers, no TTY). */
export function demuxLogs(buffer: Buffer): LogLine[] {
  const lines: LogLine[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const stream = buffer[offset] === 2 ? 'stderr' : 'stdout';
    const size = buffer.readUInt32BE(offset + 4);
    const frame = buffer.subarray(offset + 8, offset + 8 + size).toString('utf8');
    offset += 8 + size;
    for (const raw of frame.split('\n')) {
      if (raw === '') continue;
      const space = raw.indexOf(' ');
      lines.push({ stream, timestamp: raw.slice(0, space), message: raw.slice(space + 1) });
    }
  }
  return lines;
}
