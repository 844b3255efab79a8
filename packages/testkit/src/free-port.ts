import { createServer } from 'node:net';

// Ports handed out by this process; never handed out twice, so two servers
// started back to back cannot be given the same port before either binds it.
const handedOut = new Set<number>();

/**
 * A TCP port on 127.0.0.1 that was free a moment ago. Another process can
 * still take it before the caller binds it; the window is small, not zero.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const port = await bindEphemeralPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: the kernel kept offering ports already handed out');
}

function bindEphemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close((error) => (error ? reject(error) : resolve(port)));
    });
  });
}
