/**
 * A throwaway repository laid out like ours (apps/<app>/package.json and
 * dist/main.js), whose apps are tiny HTTP servers, so the stack can be run
 * for real without building the real apps.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TempDir } from './temp-dir.js';

/**
 * Serves 200 on /readyz at the port its own variable names (chosen by its
 * folder, as each real app reads only its own: children inherit the others
 * too), prints
 * `{"msg":"listening","pid":..,"env":{..}}` once up, and on SIGTERM prints
 * `{"msg":"draining"}` and exits 0 after DRAIN_MS (a constant baked in).
 */
export function fakeApp(options: { drainMs?: number; ignoreSigterm?: boolean } = {}): string {
  return `
import { createServer } from 'node:http';
import { basename } from 'node:path';
const env = process.env;
const app = basename(process.cwd());
const variable = { sandbox: 'SANDBOX_PORT', producer: 'PRODUCER_PORT', dashboard: 'DASHBOARD_PORT' }[app] ?? 'HEALTH_PORT';
const port = Number(env[variable]);
const server = createServer((req, res) => { res.writeHead(req.url === '/readyz' ? 200 : 404); res.end(); });
server.listen(port, env.HOST, () => console.log(JSON.stringify({ msg: 'listening', pid: process.pid, env })));
process.on('SIGTERM', () => {
  console.log(JSON.stringify({ msg: 'draining', at: Date.now() }));
  if (${options.ignoreSigterm === true}) return;
  setTimeout(() => server.close(() => process.exit(0)), ${options.drainMs ?? 0});
});
`;
}

export class FakeRepo extends TempDir {
  /** Adds apps/<app> with package.json and dist/main.js; `built` false removes dist/main.js. */
  app(app: string, source = fakeApp(), built = true): this {
    const dir = join(this.path, 'apps', app);
    mkdirSync(join(dir, 'dist'), { recursive: true });
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: `@fake/${app}`, type: 'module' }),
    );
    if (built) writeFileSync(join(dir, 'dist', 'main.js'), source);
    else rmSync(join(dir, 'dist', 'main.js'), { force: true });
    return this;
  }
}
