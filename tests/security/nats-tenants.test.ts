/**
 * Tenants on the bus: a real nats-server in Beacon's JWT mode (tests/support/nats.ts with the configuration
 * natsAuthority writes). Alice's kernel, with the credentials Beacon gives it, reads and answers only its own
 * subjects; bob's commands, results and consumer are out of its reach.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BusMessage,
  createLogger,
  createNatsBus,
  type EventBus,
  kernelBusAuth,
  kernelInbox,
  natsAuthority,
  streams,
  subjects,
} from '@beacon/core';
import { connect, credsAuthenticator, type NatsConnection } from 'nats';
import { hasTool } from '../support/deps';
import { startNats } from '../support/nats';
import { eventually } from '../support/wait';

const available = hasTool('nats-server');
const log = createLogger({ service: 'test', level: 'silent' });
const enc = new TextEncoder();

describe.skipIf(!available)('NATS with per-kernel credentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-nats-auth-'));
  const authority = natsAuthority(dir);
  let nats: Awaited<ReturnType<typeof startNats>>;
  let gateway: EventBus;
  let alice: NatsConnection;
  const buses: EventBus[] = [];

  const command = (handle: string, n: number) => ({
    taskId: `${handle}-task-${n}`,
    traceId: `trace-${handle}-${n}`,
    text: `secret prompt of ${handle}`,
    source: 'api',
  });

  beforeAll(async () => {
    const config = join(dir, 'nats.conf');
    writeFileSync(config, await authority.serverConfig());
    nats = await startNats('127.0.0.1', { config });
    const creds = await authority.serviceCreds('gateway');
    gateway = createNatsBus({ url: nats.url, name: 'gateway', log, credentials: () => creds });
    buses.push(gateway);
    // The gateway makes the streams (its credentials may), as it does at start.
    gateway.subscribeDurable({ stream: streams.results, durable: 'gateway-test' }, () => {});
    await eventually(() =>
      gateway.publishDurable(subjects.commands('bob'), command('bob', 1), { stream: streams.commands }).then(
        () => true,
        () => false,
      ),
    );
    const aliceCreds = await authority.kernelCreds('alice');
    alice = await connect({
      servers: nats.url,
      authenticator: credsAuthenticator(enc.encode(aliceCreds)),
      inboxPrefix: kernelInbox('alice'),
    });
  });

  afterAll(async () => {
    await alice?.close();
    for (const b of buses) await b.close();
    await nats?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  /** What arrives on `subject` (as the gateway, which may read anything) while `act` runs, and a moment after. */
  async function seenBy(subject: string, act: () => Promise<unknown>) {
    const seen: BusMessage[] = [];
    const stop = gateway.subscribe(subject, (m) => void seen.push(m));
    await Bun.sleep(100);
    await act();
    await Bun.sleep(300);
    stop();
    return seen;
  }

  test('without credentials nobody connects', async () => {
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(/Authorization/i);
  });

  test("alice's kernel reads its own commands and stores its own results", async () => {
    const aliceCreds = await authority.kernelCreds('alice');
    const kernel = createNatsBus({
      url: nats.url,
      name: 'kernel-alice',
      log,
      ...kernelBusAuth('alice', () => aliceCreds),
    });
    buses.push(kernel);
    const got: BusMessage[] = [];
    kernel.subscribeDurable(
      { stream: streams.commands, durable: 'kernel-alice', filter: subjects.commands('alice') },
      (m) => void got.push(m),
    );
    await gateway.publishDurable(subjects.commands('alice'), command('alice', 1), {
      stream: streams.commands,
    });
    await eventually(() => got.length === 1);
    const stored = await seenBy(subjects.kernel('alice', 'results'), () =>
      eventually(() =>
        kernel
          .publishDurable(
            subjects.kernel('alice', 'results'),
            { taskId: 'alice-task-1' },
            { stream: streams.results },
          )
          .then(
            () => true,
            () => false,
          ),
      ),
    );
    expect(stored.map((m) => m.data)).toEqual([{ taskId: 'alice-task-1' }]);
  });

  test("subscribing to everything or to bob's subjects brings alice nothing", async () => {
    for (const pattern of ['beacon.>', 'beacon.*.commands', subjects.commands('bob'), '_INBOX.>', '>']) {
      const got: unknown[] = [];
      const sub = alice.subscribe(pattern);
      void (async () => {
        try {
          for await (const m of sub) got.push(m.subject);
        } catch {}
      })();
      await alice.flush().catch(() => {});
      await gateway.publish(subjects.commands('bob'), command('bob', 2));
      await gateway.publish(subjects.kernel('bob', 'progress'), { taskId: 'bob-task-2', delta: 'secret' });
      await Bun.sleep(200);
      sub.unsubscribe();
      expect({ pattern, got }).toEqual({ pattern, got: [] });
    }
  });

  test("alice cannot send bob a command, nor forge bob's answers", async () => {
    for (const [subject, payload] of [
      [subjects.commands('bob'), command('bob', 3)],
      [subjects.kernel('bob', 'results'), { taskId: 'bob-task-1', text: 'forged' }],
      [subjects.kernel('bob', 'errors'), { taskId: 'bob-task-1' }],
      [subjects.platformEvents, { type: 'container.died', handle: 'bob' }],
    ] as const) {
      const seen = await seenBy(subject, async () => {
        alice.publish(subject, JSON.stringify(payload));
        await alice.flush().catch(() => {});
      });
      expect({ subject, seen }).toEqual({ subject, seen: [] });
    }
  });

  test("alice cannot take bob's commands from the stream: no consumer of bob's, none with bob's filter", async () => {
    const jsm = await alice.jetstreamManager({ timeout: 1000 });
    for (const [durable, filter] of [
      ['kernel-bob', subjects.commands('bob')],
      ['kernel-alice', subjects.commands('bob')],
      ['kernel-alice', 'beacon.*.commands'],
    ]) {
      await expect(
        jsm.consumers.add(streams.commands.name, {
          durable_name: durable,
          filter_subject: filter,
          ack_policy: 'explicit' as never,
        }),
      ).rejects.toThrow();
    }
    await expect(jsm.streams.info(streams.commands.name)).rejects.toThrow();
    await expect(jsm.streams.purge(streams.commands.name)).rejects.toThrow();
    // Bob's first command is still there, for bob's kernel.
    const bobCreds = await authority.kernelCreds('bob');
    const bob = createNatsBus({
      url: nats.url,
      name: 'kernel-bob',
      log,
      ...kernelBusAuth('bob', () => bobCreds),
    });
    buses.push(bob);
    const got: BusMessage[] = [];
    bob.subscribeDurable(
      { stream: streams.commands, durable: 'kernel-bob', filter: subjects.commands('bob') },
      (m) => void got.push(m),
    );
    await eventually(() => got.some((m) => (m.data as { taskId: string }).taskId === 'bob-task-1'));
  });
});

describe.skipIf(!available)("a kernel's NATS credentials expire unless renewed", () => {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-nats-ttl-'));
  const authority = natsAuthority(dir, { kernelTtlSeconds: 2 });
  // (The platform renews every third of BEACON_NATS_CREDS_TTL; here every 0.7 s of 2.)
  let nats: Awaited<ReturnType<typeof startNats>>;
  const buses: EventBus[] = [];

  beforeAll(async () => {
    const config = join(dir, 'nats.conf');
    writeFileSync(config, await authority.serverConfig());
    nats = await startNats('127.0.0.1', { config });
  });
  afterAll(async () => {
    for (const b of buses) await b.close();
    await nats?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test('expired credentials are refused; a kernel whose file is renewed stays connected', async () => {
    const old = await authority.kernelCreds('carol');
    const file = join(dir, 'carol.creds');
    writeFileSync(file, old);
    const gatewayCreds = await authority.serviceCreds('gateway');
    const gateway = createNatsBus({ url: nats.url, name: 'gateway', log, credentials: () => gatewayCreds });
    const kernel = createNatsBus({
      url: nats.url,
      name: 'kernel-carol',
      log,
      ...kernelBusAuth('carol', () => readFileSync(file, 'utf8')),
    });
    buses.push(gateway, kernel);
    const got: BusMessage[] = [];
    kernel.subscribe(subjects.commands('carol'), (m) => void got.push(m));
    await eventually(() =>
      kernel.check().then(
        () => true,
        () => false,
      ),
    );
    // Renewed every third of the lifetime, as the platform does, until past the first one's expiry.
    for (let i = 0; i < 5; i++) {
      await Bun.sleep(700);
      writeFileSync(file, await authority.kernelCreds('carol'));
    }
    const connectWith = (creds: string) =>
      connect({ servers: nats.url, reconnect: false, authenticator: credsAuthenticator(enc.encode(creds)) });
    await expect(connectWith(old)).rejects.toThrow(/expired|Authorization/i);
    await eventually(async () => {
      await gateway.publish(subjects.commands('carol'), { n: got.length });
      return got.length > 0;
    }, 10_000);
  }, 30_000);
});
