const MAX_KEY_BYTES = 1024;

/**
 * Why `key` cannot name an artifact, or undefined when it can: 1–1024 bytes of UTF-8, relative
 * (no leading `/`), no empty, `.` or `..` segment, no trailing `/`, no backslash or control character.
 * The same rules hold for both stores, so a key that works on the filesystem works on S3 and back.
 */
export function keyProblem(key: string, { prefix = false } = {}): string | undefined {
  if (!prefix && key.length === 0) return 'must not be empty';
  if (new TextEncoder().encode(key).length > MAX_KEY_BYTES) return `must be at most ${MAX_KEY_BYTES} bytes`;
  if (key.startsWith('/')) return 'must not start with /';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f\\]/.test(key)) return 'must not contain control characters or backslashes';
  const segments = key.split('/');
  // A prefix may end in `/` (a "directory") or part-way through a segment.
  const checked = prefix ? segments.slice(0, -1) : segments;
  if (checked.some((s) => s === '..' || s === '.')) return 'must not contain . or .. segments';
  if (checked.some((s) => s === '')) return 'must not contain empty segments (// or a trailing /)';
  if (prefix && segments.at(-1) === '..') return 'must not contain . or .. segments';
  return undefined;
}
