/**
 * Builds the producer's fastify instance without listening: main.ts listens,
 * tests call `app.inject()`.
 *
 * Request path: onRequest checks the API key (every route but the public
 * ones) and draining before fastify reads the body, so an unauthenticated
 * body is never parsed; fastify then parses JSON (secure-json-parse rejects
 * `__proto__` and `constructor.prototype`), the route validates and
 * publishes, and one error handler answers every failure as
 * `{error: {code, message, details?}}` with the status of its class.
 */
import Fastify, { type FastifyBaseLogger, type FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';
import {
  BacklogFullError,
  IdempotencyConflictError,
  createRedisPublisher,
  type BatchItemResult,
  type PublishReceipt,
  type RedisPublisher,
} from '@switchyard/client';
import { EventError, SchemaInvalidError } from '@switchyard/events';
import { withCorrelation, type Logger } from '@switchyard/observability';
import { createApiKeyCheck } from './create-api-key-check.js';
import type { ProducerConfig } from './env.js';
import {
  BatchEmptyError,
  BatchTooLargeError,
  DrainingError,
  InternalError,
  MethodNotAllowedError,
  RouteNotFoundError,
  UnauthorizedError,
  httpAnswerOf,
  type HttpAnswer,
} from './errors.js';
import { isRedisReachable } from './is-redis-reachable.js';
import { buildOpenApiDocument } from './openapi.js';
import { createProducerMetrics } from './producer-metrics.js';
import type { Registry } from 'prom-client';

export interface BuildServerOptions {
  config: ProducerConfig;
  /** Fail-fast connection (see createRedisConnection); used for readiness and, by default, publishing. */
  redis: Redis;
  logger: Logger;
  /** Where the HTTP and publish metrics are registered; /metrics serves it whole. */
  registry: Registry;
  /**
   * Publishes events. Default: a Redis publisher on `redis` with the
   * config's prefix and window, closed when the server closes. An injected
   * one is the caller's to close.
   */
  publisher?: RedisPublisher;
  /** True once shutdown began: /readyz and /v1/* answer 503. Default: never. */
  draining?: () => boolean;
  /** Bound on the readiness PING. Default 1 000 ms. */
  readinessTimeoutMs?: number;
}

/** Routes that need no API key. Everything else, unknown paths included, does. */
const publicPaths = new Set(['/healthz', '/readyz', '/metrics', '/openapi.json']);

const pathOf = (url: string): string => url.split('?', 1)[0] ?? url;

export function buildServer(options: BuildServerOptions) {
  const { config, redis, registry } = options;
  const draining = options.draining ?? (() => false);
  const readinessTimeoutMs = options.readinessTimeoutMs ?? 1_000;
  const ownsPublisher = options.publisher === undefined;
  const publisher =
    options.publisher ??
    createRedisPublisher({
      connection: redis,
      prefix: config.QUEUE_PREFIX,
      idempotencyTtlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
      backlogLimit: config.BACKLOG_LIMIT,
      backlogLimits: config.BACKLOG_LIMITS,
      backlogCheckIntervalMs: config.BACKLOG_CHECK_INTERVAL_MS,
      backlogRetryAfterSeconds: config.BACKLOG_RETRY_AFTER_SECONDS,
      logger: options.logger,
    });
  const metrics = createProducerMetrics(registry);
  const acceptsKey = createApiKeyCheck(config.API_KEYS);
  const openApiDocument = buildOpenApiDocument({
    batchMaxEvents: config.BATCH_MAX_EVENTS,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
  });
  // Path -> methods, for 405 and its Allow header.
  const methodsByPath = new Map<string, Set<string>>();

  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: config.BODY_LIMIT_BYTES,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Draining answers come from the onRequest hook, in our error format.
    return503OnClosing: false,
    frameworkErrors: (error, request, reply) => {
      sendAnswer(reply, answerFor(error, request.log));
    },
  });

  // Only JSON bodies: without a parser for text/plain fastify answers 415.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRoute', (route) => {
    const methods = methodsByPath.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    methodsByPath.set(route.url, methods);
  });

  app.addHook('onRequest', (request, _reply, done) => {
    if (publicPaths.has(pathOf(request.url))) return done();
    if (!acceptsKey(request.headers.authorization)) {
      return done(
        new UnauthorizedError('send a configured API key as "Authorization: Bearer <key>"'),
      );
    }
    if (draining()) return done(new DrainingError('the server is shutting down; retry'));
    done();
  });

  // A keep-alive connection whose request was in flight when close() began
  // would otherwise idle for keepAliveTimeout (72 s) and hold the shutdown.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (draining()) void reply.header('connection', 'close');
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    metrics.observeRequest(
      {
        method: request.method,
        route: request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched'),
        statusCode: reply.statusCode,
      },
      reply.elapsedTime / 1_000,
    );
    done();
  });

  app.setErrorHandler((error, request, reply) => {
    sendAnswer(reply, answerFor(error, request.log));
  });

  app.setNotFoundHandler((request, reply) => {
    const allowed = methodsByPath.get(pathOf(request.url));
    const error =
      allowed === undefined
        ? new RouteNotFoundError(`no route ${request.method} ${pathOf(request.url)}`)
        : new MethodNotAllowedError(`${pathOf(request.url)} does not accept ${request.method}`, [
            ...allowed,
          ]);
    sendAnswer(reply, answerFor(error, request.log));
  });

  if (ownsPublisher) app.addHook('onClose', () => publisher.close());

  /** Logs the one line per answered event and counts it. */
  function recordPublished(log: FastifyBaseLogger, receipt: PublishReceipt): void {
    metrics.countPublished(receipt.type, receipt.status);
    withCorrelation(
      {
        correlationId: receipt.correlationId,
        eventId: receipt.eventId,
        eventType: receipt.type,
        ...(receipt.tenantId === undefined ? {} : { tenantId: receipt.tenantId }),
      },
      () => {
        log.info(
          {
            type: receipt.type,
            idempotencyKey: receipt.idempotencyKey,
            queues: receipt.queues,
            status: receipt.status,
          },
          'event published',
        );
      },
    );
  }

  app.post('/v1/events', async (request, reply) => {
    const header = request.headers['idempotency-key'];
    if (Array.isArray(header)) {
      throw new SchemaInvalidError('send at most one Idempotency-Key header', [
        { path: ['Idempotency-Key'], code: 'too_big', message: 'repeated header' },
      ]);
    }
    let receipt: PublishReceipt;
    try {
      receipt = await publisher.publish(request.body, { idempotencyKeyHeader: header });
    } catch (error) {
      if (
        error instanceof EventError ||
        error instanceof IdempotencyConflictError ||
        error instanceof BacklogFullError
      ) {
        metrics.countPublished(typeOf(request.body), 'rejected');
      }
      throw error;
    }
    recordPublished(request.log, receipt);
    return reply.code(202).send(toPublishResult(receipt));
  });

  app.post('/v1/events/batch', async (request, reply) => {
    if (request.headers['idempotency-key'] !== undefined) {
      throw new SchemaInvalidError(
        'a batch takes no Idempotency-Key header; give each event its idempotencyKey',
        [
          {
            path: ['Idempotency-Key'],
            code: 'unrecognized_keys',
            message: 'not accepted on a batch',
          },
        ],
      );
    }
    const events: unknown = request.body;
    if (!Array.isArray(events)) {
      throw new SchemaInvalidError('a batch is a JSON array of events', [
        { path: [], code: 'invalid_type', message: 'expected array' },
      ]);
    }
    if (events.length === 0) throw new BatchEmptyError('a batch needs at least one event');
    if (events.length > config.BATCH_MAX_EVENTS) {
      throw new BatchTooLargeError(`a batch holds at most ${config.BATCH_MAX_EVENTS} events`, {
        max: config.BATCH_MAX_EVENTS,
        received: events.length,
      });
    }
    const results = await publisher.publishBatch(events);
    for (const result of results) {
      if (result.status === 'rejected')
        metrics.countPublished(typeOf(events[result.index]), 'rejected');
      else recordPublished(request.log, result);
    }
    return reply.code(202).send({ results: results.map(toBatchItem) });
  });

  app.get('/healthz', () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (draining())
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({ status: 'not ready', reason: 'draining' });
    if (!(await isRedisReachable(redis, readinessTimeoutMs))) {
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({ status: 'not ready', reason: 'redis unreachable' });
    }
    return { status: 'ready' };
  });

  app.get('/metrics', async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );

  app.get('/openapi.json', () => openApiDocument);

  return app;
}

export type ProducerServer = ReturnType<typeof buildServer>;

/** The answer for any error; unknown ones are logged as the bugs they are. */
function answerFor(error: unknown, log: FastifyBaseLogger): HttpAnswer {
  const known = httpAnswerOf(error);
  if (known !== undefined) {
    if (known.status >= 500) log.warn({ err: error }, 'request failed');
    return known;
  }
  log.error({ err: error }, 'unhandled error');
  return httpAnswerOf(new InternalError('internal error'))!;
}

function sendAnswer(reply: FastifyReply, answer: HttpAnswer): void {
  void reply.code(answer.status).headers(answer.headers).send(answer.body);
}

/** The `type` of a raw input, for the rejected-events counter. */
function typeOf(input: unknown): unknown {
  return typeof input === 'object' && input !== null
    ? (input as { type?: unknown }).type
    : undefined;
}

function toPublishResult(receipt: PublishReceipt) {
  return {
    eventId: receipt.eventId,
    idempotencyKey: receipt.idempotencyKey,
    status: receipt.status,
    queues: receipt.queues,
  };
}

function toBatchItem(result: BatchItemResult) {
  return result.status === 'rejected'
    ? result
    : { index: result.index, ...toPublishResult(result) };
}
