/**
 * Finds the ports a child could not bind, before anything starts: a taken
 * port would otherwise show up as a child crashing and restarting forever.
 * The check binds and releases each port on 127.0.0.1, the address the
 * children use; another process can still take one in between (rare on a
 * developer machine, and the restart messages then say what happened).
 */
import { createServer } from 'node:net';
import { PortInUseError } from './errors.js';
import type { PortClaim } from './stack-plan.js';

export async function assertPortsFree(
  claims: readonly PortClaim[],
  host = '127.0.0.1',
): Promise<void> {
  const busy: { port: number; variable: string; reason: string }[] = [];
  for (const claim of claims) {
    const problem = await tryBind(claim.port, host);
    if (problem !== undefined) {
      busy.push({
        port: claim.port,
        variable: claim.variable,
        reason: `for ${claim.child} is ${problem} on ${host}; stop what holds it or set ${claim.variable}`,
      });
    }
  }
  if (busy.length > 0) throw new PortInUseError(busy);
}

function tryBind(port: number, host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      resolve(
        error.code === 'EADDRINUSE'
          ? 'already in use'
          : `not usable (${error.code ?? error.message})`,
      ),
    );
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}
