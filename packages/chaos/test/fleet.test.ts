/**
 * The fleet supervisor on real worker processes: each operation does to the
 * replica what it says (checked through the process itself: its pid, its
 * exit code, its /readyz), so a scenario's fault is the fault it claims.
 */
import { startSandbox, type Sandbox } from '@switchyard/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../src/fleet.ts';
import { startRedisServer, type RedisServer } from '../src/redis-server.ts';
import { fastRecoveryEnv } from '../src/scenario-stack.ts';

/** /readyz of a replica within 1 s: a stopped process does not answer. */
async function answers(fleet: Fleet, i: number): Promise<boolean> {
  const app = fleet.replica(i);
  if (app === undefined) return false;
  try {
    const response = await fetch(`${app.url}/readyz`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

describe('startFleet', () => {
  let redis: RedisServer;
  let sandbox: Sandbox;
  let fleet: Fleet;

  beforeAll(async () => {
    redis = await startRedisServer({ profile: 'no-persistence' });
    sandbox = await startSandbox({ logLevel: 'error' });
    fleet = await startFleet({
      app: 'worker-notifications',
      replicas: 2,
      env: {
        REDIS_URL: redis.url,
        SANDBOX_URL: sandbox.url,
        QUEUE_PREFIX: 'fleettest',
        ...fastRecoveryEnv,
      },
    });
  });
  afterAll(async () => {
    await fleet?.stop();
    await sandbox?.stop();
    await redis?.stop();
  });

  it('starts every replica ready, each with its own WORKER_ID', async () => {
    expect(await answers(fleet, 0)).toBe(true);
    expect(await answers(fleet, 1)).toBe(true);
    expect(fleet.workerIds()).toEqual(['worker-notifications-r0-g1', 'worker-notifications-r1-g1']);
  });

  it('pause stops the process from answering; resume brings it back', async () => {
    fleet.pause(1);
    expect(await answers(fleet, 1)).toBe(false);
    fleet.resume(1);
    expect(await answers(fleet, 1)).toBe(true);
  });

  it('SIGKILL ends the process by signal; respawn starts a new incarnation', async () => {
    const before = fleet.replica(0)!.pid;
    expect(await fleet.kill(0, 'SIGKILL')).toBeNull();
    expect(fleet.replica(0)).toBeUndefined();
    await expect(fleet.kill(0)).rejects.toThrow(/not running/);
    const app = await fleet.respawn(0);
    expect(app.pid).not.toBe(before);
    expect(fleet.workerId(0)).toBe('worker-notifications-r0-g2');
    expect(await answers(fleet, 0)).toBe(true);
  });

  it('rollingRestart SIGTERMs each replica (clean exit 0) and starts it again', async () => {
    const before = [fleet.replica(0)!.pid, fleet.replica(1)!.pid];
    expect(await fleet.rollingRestart()).toEqual([0, 0]);
    expect(fleet.replica(0)!.pid).not.toBe(before[0]);
    expect(fleet.replica(1)!.pid).not.toBe(before[1]);
    expect(await answers(fleet, 0)).toBe(true);
    expect(await answers(fleet, 1)).toBe(true);
  });

  it('refuses replicas it does not have', () => {
    expect(() => fleet.pause(5)).toThrow(/no replica 5/);
  });
});
