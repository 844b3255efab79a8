/**
 * Entry of a role child: `node dist/child-main.js <role> <config JSON>`.
 * Takes commands from the orchestrator over IPC, one at a time per id, and
 * answers each. Exits when the channel closes (the orchestrator died), so a
 * child never outlives the run.
 */
import { ConsumerStats, produceInFlight, producePaced, type Role } from './role-kit.js';
import type { Command, ConsumerVariant, Reply, RoleConfig, RoleName } from './protocol.js';

const fullVariant: ConsumerVariant = { logs: true, metrics: true, once: true };

async function loadRole(name: RoleName, config: RoleConfig): Promise<Role> {
  switch (name) {
    case 'limit':
      return (await import('./roles/limit-role.js')).createLimitRole(config);
    case 'bullmq':
      return (await import('./roles/bullmq-role.js')).createBullmqRole(config);
    case 'bee':
      return (await import('./roles/bee-role.js')).createBeeRole(config);
    case 'switchyard':
      return (await import('./roles/switchyard-role.js')).createSwitchyardRole(config);
    case 'http':
      return (await import('./roles/http-role.js')).createHttpRole(config);
    case 'client':
      return (await import('./roles/client-role.js')).createClientRole(config);
  }
}

async function main(): Promise<void> {
  const name = process.argv[2] as RoleName;
  const config = JSON.parse(process.argv[3] ?? '{}') as RoleConfig;
  const role = await loadRole(name, config);
  let seq = 0;
  const next = () => seq++;
  let stats: ConsumerStats | undefined;

  const run = async (command: Command): Promise<unknown> => {
    switch (command.cmd) {
      case 'add':
        return produceInFlight(command.n, command.inFlight, next, (s, t) => role.addOne(s, t));
      case 'bulk': {
        const batches = Math.ceil(command.n / command.batch);
        let left = command.n;
        const result = await produceInFlight(batches, command.inFlight, next, (_s, t) => {
          const count = Math.min(command.batch, left);
          left -= count;
          const first = seq;
          seq += count;
          return role.addBatch(first, count, t);
        });
        return { ...result, sent: command.n - result.errors * command.batch };
      }
      case 'paced':
        return producePaced(command.rate, command.durationMs, command.maxInFlight, next, (s, t) =>
          role.addOne(s, t),
        );
      case 'startConsumer':
        stats?.dispose();
        stats = new ConsumerStats();
        await role.startConsumer(command.concurrency, command.variant ?? fullVariant, stats);
        stats.ready();
        return null;
      case 'awaitConsumed':
        if (!stats) throw new Error('no consumer started');
        return stats.waitFor(command.expect, command.timeoutMs);
      case 'stopConsumer':
        await role.stopConsumer();
        stats?.dispose();
        stats = undefined;
        return null;
      case 'close':
        await role.close();
        setImmediate(() => process.exit(0));
        return null;
    }
  };

  process.on('message', (message: { id: number; command: Command }) => {
    run(message.command).then(
      (result) => process.send?.({ id: message.id, ok: true, result } satisfies Reply),
      (error: unknown) =>
        process.send?.({
          id: message.id,
          ok: false,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        } satisfies Reply),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ id: 0, ok: true, result: 'ready' } satisfies Reply);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench child failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
