import { describe, expect, test } from 'bun:test';
import { type BusMessage, type ContainerEvent, createLogger, createMemoryBus } from '@beacon/core';
import { createDockerClient, type DockerClient } from '../../packages/platform/src/clients/docker';
import { LineSplitter } from '../../packages/platform/src/clients/engine-streams';
import { DockerEventWatcher } from '../../packages/platform/src/lifecycle/engine-events';
import { createPlatformEvents } from '../../packages/platform/src/lifecycle/events';
import { createPlatformParts, docker, onTestEngine, TEST_IMAGE } from '../support/docker';
import { eventually } from '../support/wait';

const { available, prefix } = await onTestEngine('events');

/** A platform with a watcher whose bus events are collected; `cut()` closes the stream under it. */
function setup() {
  const bus = createMemoryBus();
  const log = createLogger({ service: 'platform', level: 'silent' });
  const events = createPlatformEvents(bus, log);
  const seen: ContainerEvent[] = [];
  bus.subscribe('beacon.platform.events', (m: BusMessage) => {
    seen.push(m.data as ContainerEvent);
  });
  const streams: NodeJS.ReadableStream[] = [];
  const real = createDockerClient(docker);
  const client: DockerClient = {
    ...real,
    events: async (signal) => {
      const stream = await real.events(signal);
      streams.push(stream);
      return stream;
    },
  };
  const parts = createPlatformParts(client, { events });
  const watcher = new DockerEventWatcher({
    docker: client,
    metrics: parts.metrics,
    log,
    events,
    reconcile: () => parts.reconcile(),
    onState: (h, a, id) => parts.containers.applyEngineAction(h, a, id),
    reconnectMs: 300,
  });
  watcher.start();
  const cut = () => (streams.at(-1) as unknown as { destroy(): void }).destroy();
  return { ...parts, watcher, seen, cut, events };
}

const of = (seen: ContainerEvent[], handle: string, type: string) =>
  seen.find((e) => e.handle === handle && e.type === type);

describe('LineSplitter', () => {
  test('one chunk may hold several events or half of one', () => {
    const s = new LineSplitter();
    expect(s.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
    expect(s.push(':2}\n{"c":3}\n')).toEqual(['{"b":2}', '{"c":3}']);
    expect(s.push('')).toEqual([]);
  });
});

describe.skipIf(!available)('Docker events on a real engine', () => {
  test('a managed container killed outside the platform produces die on the bus within 2 s; stop produces stop', async () => {
    const p = setup();
    try {
      await eventually(() => p.watcher.connections === 1);
      const handle = `${prefix}-kill`;
      await p.containers.create({ handle, command: ['sleep', '3600'], health: 'none' });
      await eventually(() => of(p.seen, handle, 'container.started'), 2000);
      const c = await docker.getContainer(`beacon-${handle}`).inspect();
      await docker.getContainer(c.Id).kill();
      const died = await eventually(() => of(p.seen, handle, 'container.died'), 2000);
      expect(died.containerId).toBe(c.Id);
      expect(died.detail).toMatchObject({ exitCode: 137 });
      await eventually(() => p.containers.find(handle)?.state === 'stopped', 2000);

      await docker.getContainer(c.Id).start();
      await eventually(() => p.containers.find(handle)?.state === 'running', 2000);
      await docker.getContainer(c.Id).stop({ t: 0 });
      await eventually(() => of(p.seen, handle, 'container.stopped'), 2000);
      expect(await p.registry.metrics()).toMatch(/platform_docker_events_total\{action="die"\} [1-9]/);
    } finally {
      await p.watcher.stop();
    }
  });

  test('when the stream is cut the watcher reconnects and reconciles what happened in the gap', async () => {
    const p = setup();
    try {
      await eventually(() => p.watcher.connections === 1);
      p.cut();
      const stranger = `${prefix}-gap`;
      const c = await docker.createContainer({
        name: `beacon-${stranger}`,
        Image: TEST_IMAGE,
        Cmd: ['sleep', '3600'],
        Labels: { 'beacon.managed': 'true', 'beacon.handle': stranger, 'beacon.owner': 'zoe' },
      });
      await c.start();
      await eventually(() => p.watcher.connections >= 2, 5000);
      // A reconcile may catch it between create and start; the start event then brings it to running.
      const adopted = await eventually(() => {
        const found = p.containers.find(stranger);
        return found?.state === 'running' ? found : undefined;
      }, 5000);
      expect(adopted).toMatchObject({ owner: 'zoe', state: 'running' });
    } finally {
      await p.watcher.stop();
    }
  });

  test('a container over its 16 MB limit is reported as oom in events and metrics', async () => {
    const p = setup();
    try {
      await eventually(() => p.watcher.connections === 1);
      const handle = `${prefix}-oom`;
      await p.containers.create({
        handle,
        memoryMb: 16,
        health: 'none',
        command: ['sh', '-c', 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=48; sleep 3600'],
      });
      await eventually(() => of(p.seen, handle, 'container.oom'), 10_000);
      const text = await p.registry.metrics();
      expect(text).toMatch(new RegExp(`platform_container_oom_kills_total\\{handle="${handle}"\\} [1-9]`));
      expect(text).toMatch(/platform_docker_events_total\{action="oom"\} [1-9]/);
    } finally {
      await p.watcher.stop();
    }
  });
});
