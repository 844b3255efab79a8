/**
 * Every way `pnpm start` can refuse to run, as a class with a stable `code`.
 * main.ts prints `message` (written for the person at the terminal: what is
 * wrong and what to do) and exits 1; tests match on `code`. A bad variable is
 * observability's ConfigError (`SY_ERR_CONFIG`), shared with every app.
 */

export abstract class StackError extends Error {
  abstract readonly code: string;
}

/** An argument main.ts does not know. */
export class UsageError extends StackError {
  readonly code = 'SY_ERR_USAGE';
  constructor(argument: string) {
    super(
      `unknown argument ${JSON.stringify(argument)}\n` +
        'usage: main.js          run the built apps (pnpm start)\n' +
        '       main.js --dev    run every app from source in watch mode (pnpm dev)',
    );
    this.name = 'UsageError';
  }
}

/** An app the stack runs has no `dist/main.js`. */
export class AppNotBuiltError extends StackError {
  readonly code = 'SY_ERR_APP_NOT_BUILT';
  constructor(readonly apps: readonly { name: string; entry: string }[]) {
    super(
      `${apps.map((a) => `${a.name} is not built (${a.entry} is missing)`).join('\n')}\n` +
        'Build the workspace first: `pnpm turbo run build` (or run `npm start`, which builds before starting).',
    );
    this.name = 'AppNotBuiltError';
  }
}

/** Dev mode: an app the stack runs has no `src/main.ts`. */
export class AppSourceMissingError extends StackError {
  readonly code = 'SY_ERR_APP_SOURCE_MISSING';
  constructor(readonly apps: readonly { name: string; entry: string }[]) {
    super(
      `${apps.map((a) => `${a.name} has no source entry (${a.entry} is missing)`).join('\n')}\n` +
        'Dev mode runs every app from src/main.ts; restore the file or remove the app folder.',
    );
    this.name = 'AppSourceMissingError';
  }
}

/** A port the stack is about to hand to a child is taken, or handed out twice. */
export class PortInUseError extends StackError {
  readonly code = 'SY_ERR_PORT_IN_USE';
  constructor(readonly ports: readonly { port: number; variable: string; reason: string }[]) {
    super(ports.map((p) => `port ${p.port} (${p.variable}) ${p.reason}`).join('\n'));
    this.name = 'PortInUseError';
  }
}

/** No REDIS_URL, nothing on the probed port, and no redis-server to start. */
export class RedisServerMissingError extends StackError {
  readonly code = 'SY_ERR_REDIS_SERVER_MISSING';
  constructor(port: number) {
    super(
      `No Redis to use: REDIS_URL is unset, nothing answers PING on 127.0.0.1:${port}, ` +
        'and there is no redis-server on PATH to start. Do one of:\n' +
        '  - point the stack at a Redis you have:  REDIS_URL=redis://host:6379 npm start\n' +
        '  - Debian/Ubuntu:                        sudo apt-get install -y redis-server\n' +
        '  - macOS (Homebrew):                     brew install redis',
    );
    this.name = 'RedisServerMissingError';
  }
}

/** A Redis answers on the probed port but wants a password the stack does not have. */
export class RedisAuthRequiredError extends StackError {
  readonly code = 'SY_ERR_REDIS_AUTH_REQUIRED';
  constructor(port: number) {
    super(
      `The Redis on 127.0.0.1:${port} requires a password. ` +
        `Pass it in REDIS_URL, e.g. REDIS_URL=redis://:PASSWORD@127.0.0.1:${port} npm start`,
    );
    this.name = 'RedisAuthRequiredError';
  }
}

/** The redis-server the stack started could not run, exited, or never answered PING. */
export class RedisStartError extends StackError {
  readonly code = 'SY_ERR_REDIS_START_FAILED';
  /** `printedOutput`: whether the server ran long enough to print anything. Default true. */
  constructor(reason: string, options: { printedOutput?: boolean } = {}) {
    super(
      `could not start redis-server: ${reason}` +
        (options.printedOutput === false ? '' : ' (its output is above, tagged [redis])'),
    );
    this.name = 'RedisStartError';
  }
}
