/**
 * Builds the dashboard's fastify instance without listening: main.ts
 * listens, tests call `app.inject()`.
 *
 * Request path (one onRequest hook on the root, so it runs for every route,
 * Bull Board's API and static files, our pages and unknown paths alike):
 * 1. GET/HEAD /healthz and /readyz pass: they hold nothing.
 * 2. Everything else must be addressed to a known Host (check-host.ts),
 *    else 421, before any credential is looked at.
 * 3. Then it needs HTTP Basic credentials of a configured user, else 401
 *    with `WWW-Authenticate: Basic`; 429 when this client failed too often
 *    lately, 503 when every credential-check slot is taken (both with
 *    Retry-After, both without checking anything).
 * 4. A mutating request (any method but GET and HEAD) needs the admin role
 *    (viewer: 403) and must be same-origin (check-same-origin.ts, else 403).
 * Then the route runs; an onSend hook adds the security headers to every
 * answer. URLs fastify's router refuses before any hook (bad percent-encoding:
 * 400; a path parameter over `maxParamLength`: 414) go through
 * `frameworkErrors`, which applies steps 2 and 3 first and adds the same
 * headers, so they too tell nothing to a client without a login.
 * Bull Board is mounted at `/`; viewers get the same board with every queue
 * marked read-only in its API answers, so it shows no buttons that would
 * fail.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { Queue } from 'bullmq';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import {
  findJobs,
  isRedisReachable,
  type FoundJob,
  type JobIndexKind,
  type RedisConnection,
} from '@switchyard/client';
import type { Logger } from '@switchyard/observability';
import { sameOriginProblem } from './check-same-origin.js';
import { allowedHosts, hostProblem } from './check-host.js';
import { createAuthenticator, type Authenticator, type Principal } from './create-authenticator.js';
import { dashboardQueues } from './dashboard-queues.js';
import type { DashboardConfig } from './env.js';
import {
  jobIndexKinds,
  maxSearchQueryLength,
  renderSearchPage,
  stylesheet,
  stylesheetPath,
} from './search-page.js';
import { contentSecurityPolicy, inlineStyleHashes, securityHeaders } from './security-headers.js';

export interface BuildServerOptions {
  config: DashboardConfig;
  /** Fail-fast connection (see createRedisConnection) for the board's queues, search and readiness; the caller closes it. */
  redis: RedisConnection;
  logger: Logger;
  /** True once shutdown began: /readyz answers 503. Default: never. */
  draining?: () => boolean;
  /** Bound on the readiness PING. Default 1 000 ms. */
  readinessTimeoutMs?: number;
  /** Checks credentials. Default: createAuthenticator(config). */
  authenticator?: Authenticator;
}

/** One route as registered (HEAD routes fastify adds for GET included). */
export interface RegisteredRoute {
  method: string;
  url: string;
}

/** Paths answered without credentials, for GET and HEAD only. */
export const publicPaths: ReadonlySet<string> = new Set(['/healthz', '/readyz']);
/** Methods that never change anything; every other method is "mutating". */
export const safeMethods: ReadonlySet<string> = new Set(['GET', 'HEAD']);
export const authRealm = 'Switchyard dashboard';
/** Longest path parameter (queue name, job id) the router accepts; longer answers 414. */
export const maxParamLength = 512;

/** Folder of the installed @bull-board/ui (its dist/ holds the page and static files we serve). */
export function bullBoardUiPath(): string {
  return dirname(createRequire(import.meta.url).resolve('@bull-board/ui/package.json'));
}

const pathOf = (url: string): string => url.split('?', 1)[0] ?? url;

function sendError(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.code(status).send({ error: { code, message } });
}

/** Why a request is not let in: the answer to send instead. */
interface Refusal {
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
}

function refuse(reply: FastifyReply, refusal: Refusal) {
  return sendError(reply.headers(refusal.headers), refusal.status, refusal.code, refusal.message);
}

export function buildServer(options: BuildServerOptions) {
  const { config, redis, logger } = options;
  const draining = options.draining ?? (() => false);
  const readinessTimeoutMs = options.readinessTimeoutMs ?? 1_000;
  const authenticate = options.authenticator ?? createAuthenticator(config);
  const uiBasePath = bullBoardUiPath();
  const headers = securityHeaders(contentSecurityPolicy(inlineStyleHashes(uiBasePath)));
  const registeredRoutes: RegisteredRoute[] = [];
  const principals = new WeakMap<FastifyRequest, Principal>();
  const hosts = allowedHosts(config);

  /** Steps 2 and 3 of the request path: the principal, or the refusal to send. */
  async function admit(request: FastifyRequest): Promise<Principal | Refusal> {
    const misdirected = hostProblem(request.host, hosts);
    if (misdirected !== undefined) {
      request.log.warn(
        { host: request.host, url: request.url },
        'request for an unknown Host refused',
      );
      return { status: 421, code: 'SY_ERR_UNKNOWN_HOST', message: misdirected, headers: {} };
    }
    const outcome = await authenticate(request.headers.authorization, request.ip);
    switch (outcome.outcome) {
      case 'signed-in':
        return outcome.principal;
      case 'refused':
        return {
          status: 401,
          code: 'SY_ERR_UNAUTHORIZED',
          message: 'sign in with a dashboard user (HTTP Basic)',
          headers: { 'www-authenticate': `Basic realm="${authRealm}", charset="UTF-8"` },
        };
      case 'throttled':
        request.log.warn({ client: request.ip }, 'too many failed logins: refusing this client');
        return {
          status: 429,
          code: 'SY_ERR_TOO_MANY_FAILED_LOGINS',
          message: `too many failed logins from this address; try again in ${outcome.retryAfterSeconds} s`,
          headers: { 'retry-after': String(outcome.retryAfterSeconds) },
        };
      case 'busy':
        return {
          status: 503,
          code: 'SY_ERR_LOGIN_BUSY',
          message: 'too many logins are being checked at once; try again shortly',
          headers: { 'retry-after': String(outcome.retryAfterSeconds) },
        };
    }
  }

  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: 1_048_576,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: false,
    routerOptions: { maxParamLength },
    // The router refused the URL before any hook ran: check Host and login
    // here, and add what onSend would have added.
    frameworkErrors: (error, request, reply) => {
      void reply.headers(headers).header('cache-control', 'no-store');
      if (draining()) void reply.header('connection', 'close');
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      admit(request).then(
        (admitted) => {
          if ('status' in admitted) return refuse(reply, admitted);
          return tooLong
            ? sendError(
                reply,
                414,
                'SY_ERR_URL_TOO_LONG',
                `a path segment is longer than ${maxParamLength} characters`,
              )
            : sendError(
                reply,
                400,
                'SY_ERR_BAD_URL',
                'the URL is not valid (bad percent-encoding)',
              );
        },
        (failure: unknown) => {
          request.log.error({ err: failure }, 'request failed');
          return sendError(reply, 500, 'SY_ERR_INTERNAL', 'internal error');
        },
      );
    },
  });

  // First hook of all, so every route any plugin registers is listed.
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) registeredRoutes.push({ method, url: route.url });
  });

  app.addHook('onRequest', async (request, reply) => {
    if (safeMethods.has(request.method) && publicPaths.has(pathOf(request.url))) return;
    const admitted = await admit(request);
    if ('status' in admitted) return refuse(reply, admitted);
    const principal = admitted;
    principals.set(request, principal);
    if (safeMethods.has(request.method)) return;
    if (principal.role !== 'admin') {
      return sendError(
        reply,
        403,
        'SY_ERR_READ_ONLY',
        `user ${principal.user} has the ${principal.role} role, which cannot change anything`,
      );
    }
    const problem = sameOriginProblem(
      { headers: request.headers, host: request.host },
      config.DASHBOARD_ORIGINS,
    );
    if (problem !== undefined) {
      request.log.warn(
        { user: principal.user, method: request.method, url: request.url, problem },
        'cross-origin request refused',
      );
      return sendError(
        reply,
        403,
        'SY_ERR_CROSS_ORIGIN',
        `${problem}; mutating requests must come from the dashboard's own pages`,
      );
    }
  });

  app.addHook('onSend', (_request, reply, payload, done) => {
    void reply.headers(headers);
    // Answers carry queue data behind a login: no shared or stored caches.
    // Bull Board's static files keep the revalidation @fastify/static gives
    // them, but as `private`: no shared cache may store an answer to a login.
    const cacheControl = reply.getHeader('cache-control');
    if (cacheControl === undefined) void reply.header('cache-control', 'no-store');
    else if (/\bpublic\b/i.test(String(cacheControl))) {
      void reply.header('cache-control', String(cacheControl).replace(/\bpublic\b/gi, 'private'));
    }
    if (draining()) void reply.header('connection', 'close');
    done(null, payload);
  });

  app.setErrorHandler((error, request, reply) => {
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return sendError(reply, status, 'SY_ERR_BAD_REQUEST', (error as Error).message);
    }
    request.log.error({ err: error }, 'request failed');
    return sendError(reply, 500, 'SY_ERR_INTERNAL', 'internal error');
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, 'SY_ERR_NOT_FOUND', `no route ${request.method} ${pathOf(request.url)}`),
  );

  // Bull Board over every subscriber queue, DLQ and schedules queue.
  const queueList = dashboardQueues();
  const displayNames = new Map(queueList.map((queue) => [queue.name, queue.displayName]));
  const queues = queueList.map((definition) => {
    const queue = new Queue(definition.name, { connection: redis, prefix: config.QUEUE_PREFIX });
    // A Queue emits 'error' when Redis fails; without a listener that would crash the process.
    queue.on('error', (error) =>
      logger.warn({ err: error, queue: definition.name }, 'queue error'),
    );
    return { definition, queue };
  });
  const serverAdapter = new FastifyAdapter();
  createBullBoard({
    queues: queues.map(
      ({ definition, queue }) =>
        new BullMQAdapter(queue, {
          displayName: definition.displayName,
          description: definition.description,
        }),
    ),
    // @bull-board/fastify 9.10.1 declares its types against @bull-board/api
    // 9.10.1; the adapter is the same at run time (it imports nothing of the api).
    serverAdapter: serverAdapter as unknown as Parameters<
      typeof createBullBoard
    >[0]['serverAdapter'],
    options: {
      uiBasePath,
      uiConfig: {
        boardTitle: 'Switchyard',
        miscLinks: [{ text: 'Search jobs', url: '/search' }],
      },
      handlerHooks: {
        // Defence in depth: the onRequest hook already refused these.
        before: async ({ method, request }) => {
          if (safeMethods.has(method.toUpperCase())) return;
          const outcome = await authenticate(headerOf(request.headers, 'authorization'));
          if (outcome.outcome === 'signed-in' && outcome.principal.role === 'admin') return;
          return { allow: false, status: 403, message: 'read-only user' };
        },
        // Viewers see every queue read-only, so the UI offers no action that would answer 403.
        after: async (context, result) => {
          if (context.route !== '/api/queues') return result;
          const outcome = await authenticate(headerOf(context.request.headers, 'authorization'));
          if (outcome.outcome === 'signed-in' && outcome.principal.role === 'admin') return result;
          const body = result.body as { queues?: Record<string, unknown>[] } | undefined;
          if (body?.queues === undefined) return result;
          return {
            ...result,
            body: {
              ...body,
              queues: body.queues.map((queue) => ({
                ...queue,
                readOnlyMode: true,
                allowRetries: false,
                allowCompletedRetries: false,
              })),
            },
          };
        },
      },
    },
  });
  // Encapsulated: Bull Board's error handler and view engine stay inside it.
  void app.register(serverAdapter.registerPlugin());

  app.get('/favicon.ico', (_request, reply) => reply.redirect('/static/favicon.ico'));

  app.get(stylesheetPath, (_request, reply) =>
    reply
      .type('text/css; charset=utf-8')
      .header('cache-control', 'private, max-age=300')
      .send(stylesheet),
  );

  app.get('/search', async (request, reply) => {
    const principal = principals.get(request)!;
    const params = request.query as Record<string, unknown>;
    const query = typeof params.q === 'string' ? params.q.trim() : '';
    const kindParam = typeof params.kind === 'string' ? params.kind : '';
    const kind = (jobIndexKinds as readonly string[]).includes(kindParam)
      ? (kindParam as JobIndexKind)
      : undefined;
    const page = {
      query,
      kind,
      limit: config.SEARCH_LIMIT,
      user: principal.user,
      role: principal.role,
      displayNameOf: (queue: string) => displayNames.get(queue) ?? queue,
    };
    void reply.type('text/html; charset=utf-8');
    if (query.length > maxSearchQueryLength || (kindParam !== '' && kind === undefined)) {
      return reply.code(400).send(
        renderSearchPage({
          ...page,
          query: query.slice(0, maxSearchQueryLength),
          error:
            kind === undefined && kindParam !== ''
              ? `unknown kind "${kindParam}"`
              : `a query holds at most ${maxSearchQueryLength} characters`,
        }),
      );
    }
    if (query === '') return renderSearchPage(page);
    let results: FoundJob[];
    try {
      results = await findJobs(redis, {
        prefix: config.QUEUE_PREFIX,
        id: query,
        ...(kind === undefined ? {} : { kinds: [kind] }),
        limit: config.SEARCH_LIMIT,
      });
    } catch (error) {
      // The error text stays in the log: it may name Redis hosts or keys.
      request.log.warn({ err: error }, 'search failed');
      return reply
        .code(503)
        .header('retry-after', '5')
        .send(
          renderSearchPage({
            ...page,
            error: 'the job index could not be read (Redis did not answer); try again shortly',
          }),
        );
    }
    return renderSearchPage({ ...page, results });
  });

  app.get('/healthz', () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (draining()) {
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({ status: 'not ready', reason: 'draining' });
    }
    if (!(await isRedisReachable(redis, readinessTimeoutMs))) {
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({ status: 'not ready', reason: 'redis unreachable' });
    }
    return { status: 'ready' };
  });

  // The queues share the caller's connection: close() leaves it open.
  app.addHook('onClose', async () => {
    await Promise.all(queues.map(({ queue }) => queue.close()));
  });

  return Object.assign(app, {
    /** Every route registered so far (complete after `ready()`), for the route sweep test. */
    registeredRoutes: registeredRoutes,
  });
}

export type DashboardServer = ReturnType<typeof buildServer>;

function headerOf(headers: unknown, name: string): string | undefined {
  const value = (headers as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
}
