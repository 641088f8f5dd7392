import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasDocker } from '../support/deps';
import { docker, handlePrefix } from '../support/docker';

const available = await hasDocker();

/** The README's "message end to end" block, as written; only the handle is made unique to this run. */
function recipe(handle: string): string {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf('export BEACON_ADMIN_TOKEN=');
  const end = readme.indexOf('```', start);
  if (start < 0 || end < 0) throw new Error('README has no message end-to-end recipe');
  return readme.slice(start, end).replaceAll('alice', handle);
}

describe.skipIf(!available)('the README recipe, pasted as written', () => {
  const work = mkdtempSync(join(tmpdir(), 'beacon-readme-'));
  const handle = handlePrefix('readme');
  let group: number | undefined;
  afterAll(async () => {
    if (group) process.kill(-group, 'SIGTERM');
    await docker
      .getContainer(`beacon-${handle}`)
      .remove({ force: true })
      .catch(() => {});
    rmSync(work, { recursive: true, force: true });
  });

  test('the first message after creating the container is answered', async () => {
    // Fresh data directories, as on a new clone; the commands themselves are the README's.
    const script = `export BEACON_DATA_DIR=${work}/data BEACON_HOME=${work}/home\n${recipe(handle)}`;
    const proc = Bun.spawn(['setsid', 'bash', '-c', `${script}\necho; echo RECIPE-DONE; wait`], {
      stdout: 'pipe',
      stderr: 'pipe',
      env: { ...Bun.env, BEACON_LOG_LEVEL: 'warn' },
    });
    group = proc.pid;
    let out = '';
    const reader = proc.stdout.getReader();
    const decoder = new TextDecoder();
    const deadline = Date.now() + 120_000;
    while (!out.includes('RECIPE-DONE') && Date.now() < deadline) {
      const r = await reader.read();
      if (r.done) break;
      out += decoder.decode(r.value);
    }
    // curl prints no newline after a body: the two answers may share a line (the services log JSON too).
    const lines = out.replaceAll('}{"', '}\n{"').split('\n');
    const answer = (start: string) => {
      const line = lines.find((l) => l.startsWith(start));
      if (!line) throw new Error(`the recipe printed no ${start}…:\n${out}`);
      return JSON.parse(line);
    };
    const created = answer('{"handle"');
    const answered = answer('{"taskId"');
    expect(created).toMatchObject({ handle, state: 'running' });
    expect(answered).toMatchObject({ status: 'ok', result: { text: expect.any(String) } });
  }, 150_000);
});
