/**
 * Builds the producer's fastify instance without listening: main.ts listens,
 * tests call `app.inject()`.
 *
 * Request path: onRequest checks the API key (every route but the public
 * ones), draining and the key's rate limit before fastify reads the body,
 * so an unauthenticated or refused body is never parsed; fastify then
 * parses JSON (secure-json-parse rejects `__proto__` and
 * `constructor.prototype`), the route validates and publishes, and one
 * error handler answers every failure as
 * `{error: {code, message, details?}}` with the status of its class.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyReply } from 'fastify';
import {
  BacklogFullError,
  IdempotencyConflictError,
  createRedisPublisher,
  registerQueueMetrics,
  type BatchItemResult,
  type PublishReceipt,
  type RedisPublisher,
  isRedisReachable,
  type RedisConnection,
} from '@switchyard/client';
import {
  EventError,
  SchemaInvalidError,
  deadLetterQueueNameOf,
  queueNameOf,
  subscriberNames,
} from '@switchyard/events';
import {
  isTracingEnabled,
  startServerSpan,
  withCorrelation,
  type CorrelationFields,
  type Logger,
  type ServerSpan,
} from '@switchyard/observability';
import { BullMQOtel } from 'bullmq-otel';
import { createApiKeyRateLimiter } from './api-key-rate-limiter.js';
import { createApiKeyCheck } from './create-api-key-check.js';
import { exceedsJsonNestingDepth } from './json-nesting-depth.js';
import type { ProducerConfig } from './env.js';
import {
  ApiKeyRevokedError,
  BatchEmptyError,
  BatchTooLargeError,
  DrainingError,
  InternalError,
  InvalidJsonError,
  MethodNotAllowedError,
  RateLimitedError,
  RouteNotFoundError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  httpAnswerOf,
  type HttpAnswer,
} from './errors.js';
import { buildOpenApiDocument } from './openapi.js';
import { createProducerMetrics } from './producer-metrics.js';
import type { Registry } from 'prom-client';

export interface BuildServerOptions {
  config: ProducerConfig;
  /** Fail-fast connection (see createRedisConnection); used for readiness and, by default, publishing. */
  redis: RedisConnection;
  logger: Logger;
  /**
   * Where the HTTP, publish and queue metrics are registered (queue figures
   * of every subscriber queue and DLQ, read through `redis` at scrape time);
   * /metrics serves it whole.
   */
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
  /** Bound on reading the queue figures of one scrape. Default 1 000 ms. */
  queueMetricsTimeoutMs?: number;
}

/** Routes that need no API key. Everything else, unknown paths included, does. */
const publicPaths = new Set(['/healthz', '/readyz', '/metrics', '/openapi.json']);

const pathOf = (url: string): string => url.split('?', 1)[0] ?? url;

/** The charset parameter of a Content-Type, e.g. `utf-16` in `application/json; charset="utf-16"`. */
const charsetPattern = /;\s*charset\s*=\s*"?([^";\s]*)/i;
/**
 * Deepest nesting of arrays/objects a body may have (a batch of events with
 * nested data needs a handful); deeper bodies are 400 before parsing.
 */
const maxJsonNestingDepth = 32;
/** Throws on any byte sequence that is not UTF-8; a leading BOM is dropped (RFC 8259 allows ignoring it). */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

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
      // Tracing on: the fan-out's spans join the request's trace, and each job carries it.
      ...(isTracingEnabled() ? { telemetry: new BullMQOtel({ tracerName: 'bullmq' }) } : {}),
    });
  const metrics = createProducerMetrics(registry);
  registerQueueMetrics(registry, {
    connection: redis,
    prefix: config.QUEUE_PREFIX,
    queues: subscriberNames.flatMap((subscriber) => [
      queueNameOf(subscriber),
      deadLetterQueueNameOf(subscriber),
    ]),
    timeoutMs: options.queueMetricsTimeoutMs ?? 1_000,
    onError: (error) => options.logger.warn({ err: error }, 'queue metrics not collected'),
  });
  const checkApiKey = createApiKeyCheck(config.API_KEYS, { revokedIds: config.API_KEYS_REVOKED });
  const rateLimiter = createApiKeyRateLimiter({
    redis,
    prefix: config.QUEUE_PREFIX,
    limit: config.API_KEY_RATE_LIMIT_PER_MINUTE,
    limits: config.API_KEY_RATE_LIMITS,
  });
  const openApiDocument = buildOpenApiDocument({
    batchMaxEvents: config.BATCH_MAX_EVENTS,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
  });
  // Path -> methods, for 405 and its Allow header.
  const methodsByPath = new Map<string, Set<string>>();

  const app = Fastify({
    loggerInstance: options.logger,
    // fastify's own two lines per request (`incoming request`, `request
    // completed`, each with the request or reply serialized and redacted)
    // were a third of the producer's CPU per event; the last onResponse hook
    // below writes one `request completed` line instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    // Slow and idle clients (see env.ts). Node enforces the request and
    // headers timeouts on a sweep every connectionsCheckingInterval (its
    // default is 30 s, which would let a slowloris hold a connection that
    // much longer than the bound); a sweep a second costs one pass over the
    // open connections.
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_MS,
    connectionTimeout: config.CONNECTION_TIMEOUT_MS,
    http: {
      headersTimeout: config.HEADERS_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(1_000, config.HEADERS_TIMEOUT_MS),
    },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Draining answers come from the onRequest hook, in our error format.
    return503OnClosing: false,
    frameworkErrors: (error, request, reply) => {
      sendAnswer(reply, answerFor(error, request.log));
    },
  });

  app.server.maxConnections = config.MAX_CONNECTIONS;

  // Only JSON bodies: without a parser for text/plain fastify answers 415.
  app.removeContentTypeParser('text/plain');
  // JSON is UTF-8 (RFC 8259): a body in another declared charset is 415, and
  // bytes that are not UTF-8 are 400, instead of being decoded with U+FFFD
  // replacements and accepted as different text than the client sent.
  // Parsing itself stays fastify's (secure-json-parse, poisoning = error).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const charset = charsetPattern.exec(request.headers['content-type'] ?? '')?.[1];
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      done(new UnsupportedMediaTypeError('send the body as application/json in UTF-8'), undefined);
      return;
    }
    let text: string;
    try {
      text = strictUtf8.decode(body as Buffer);
    } catch {
      done(new InvalidJsonError('the body is not valid UTF-8'), undefined);
      return;
    }
    if (exceedsJsonNestingDepth(text, maxJsonNestingDepth)) {
      done(
        new InvalidJsonError(
          `the body nests arrays/objects deeper than ${maxJsonNestingDepth} levels`,
        ),
        undefined,
      );
      return;
    }
    // Synchronous, callback style: its type only allows a promise.
    void parseJson(request, text, done);
  });

  app.addHook('onRoute', (route) => {
    const methods = methodsByPath.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    methodsByPath.set(route.url, methods);
  });

  // Tracing: a server span per request but probes and scrapes, continuing the
  // caller's traceparent (tracing off: startServerSpan returns undefined and
  // these hooks only pass on).
  const serverSpans = new WeakMap<object, ServerSpan>();
  /** The correlation of the event a POST /v1/events published, for the request's last log line. */
  const requestCorrelation = new WeakMap<object, CorrelationFields>();
  app.addHook('onRequest', (request, _reply, done) => {
    if (publicPaths.has(pathOf(request.url))) return done();
    const span = startServerSpan({
      method: request.method,
      path: pathOf(request.url),
      route: request.is404 ? undefined : request.routeOptions.url,
      headers: request.headers,
    });
    if (span) serverSpans.set(request, span);
    done();
  });
  // After the body is read, the handler (hence the publish) runs with the span active.
  app.addHook('preHandler', (request, _reply, done) => {
    const span = serverSpans.get(request);
    if (span) span.run(done);
    else done();
  });

  app.addHook('onRequest', async (request) => {
    if (publicPaths.has(pathOf(request.url))) return;
    const verdict = checkApiKey(request.headers.authorization);
    if (verdict.status === 'revoked') {
      // The id (never the key) tells ops which revoked key is still in use.
      request.log.warn({ apiKeyId: verdict.keyId }, 'revoked API key refused');
      throw new ApiKeyRevokedError('this API key was revoked; ask for a new one');
    }
    if (verdict.status !== 'valid') {
      throw new UnauthorizedError('send a configured API key as "Authorization: Bearer <key>"');
    }
    const keyId = verdict.keyId;
    if (draining()) throw new DrainingError('the server is shutting down; retry');
    // Only requests a route takes are counted: a 404/405 costs Redis nothing.
    if (rateLimiter.enabled && !request.is404) {
      try {
        await rateLimiter.consume(keyId);
      } catch (error) {
        if (error instanceof RateLimitedError) metrics.countRateLimited();
        throw error;
      }
    }
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

  // The one line per request, once the answer is sent: method, route
  // template (`unmatched` for a 404), status and duration, with reqId (the
  // request logger's binding), the span's trace id and, for a POST
  // /v1/events, the event's correlation fields.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.is404 ? undefined : request.routeOptions.url;
    const span = serverSpans.get(request);
    span?.end(reply.statusCode, route);
    const fields = requestCorrelation.get(request);
    const line = () =>
      request.log.info(
        {
          method: request.method,
          route: route ?? 'unmatched',
          statusCode: reply.statusCode,
          durationMs: Math.round(reply.elapsedTime * 100) / 100,
        },
        'request completed',
      );
    const finish = fields === undefined ? line : () => withCorrelation(fields, line);
    if (span) span.run(finish);
    else finish();
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
    requestCorrelation.set(request, {
      correlationId: receipt.correlationId,
      eventId: receipt.eventId,
      eventType: receipt.type,
      ...(receipt.tenantId === undefined ? {} : { tenantId: receipt.tenantId }),
    });
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
