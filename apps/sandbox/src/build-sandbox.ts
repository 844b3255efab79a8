import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { logLevels } from '@switchyard/observability';
import { ControlState, controlUpdateSchema } from './control-state.js';
import {
  BadRequestError,
  BodyTooLargeError,
  IdempotencyKeyInvalidError,
  IdempotencyKeyMissingError,
  InjectedFailureFault,
  InternalError,
  InvalidJsonError,
  isInjectedFault,
  NotFoundError,
  RateLimitedFault,
  SandboxError,
  SchemaInvalidError,
  ServiceDownFault,
  ShuttingDownError,
  UnsupportedMediaTypeError,
} from './errors.js';
import { Ledger } from './ledger.js';
import { services, type Service } from './services.js';

/** A pino level, or `silent`: the values of LOG_LEVEL. */
export type LogLevel = (typeof logLevels)[number];

export interface BuildSandboxOptions {
  /**
   * A log level, or fastify's logger options (e.g. `{ level, stream }` to
   * capture lines in a test). Default false: no logging.
   */
  logger?: LogLevel | FastifyServerOptions['logger'];
  /** Source of randomness for the 429 and 500 draws, in [0, 1). Default Math.random. */
  random?: () => number;
  /** Epoch ms; timestamps and the outage window use it. Default Date.now. */
  clock?: () => number;
}

/** Body limit for every route. */
const BODY_LIMIT_BYTES = 1024 * 1024;
/** Stripe's limit on idempotency keys. */
const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/**
 * The sandbox: a stand-in for the third-party APIs workers call, with
 * injectable faults and a ledger of what was applied. See DESIGN.md,
 * "Sandbox", for the contract. Nothing listens until the caller does.
 */
export function buildSandbox(opts: BuildSandboxOptions = {}): FastifyInstance {
  const random = opts.random ?? Math.random;
  const clock = opts.clock ?? Date.now;
  const control = new ControlState(clock);
  const ledger = new Ledger();
  // Aborted when the server starts closing, so calls waiting out their
  // latency end now instead of holding shutdown for up to a minute.
  const closing = new AbortController();

  const app = Fastify({
    logger: typeof opts.logger === 'string' ? { level: opts.logger } : (opts.logger ?? false),
    bodyLimit: BODY_LIMIT_BYTES,
  });
  // JSON only: without this, fastify would parse text/plain bodies too.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((error: FastifyError | SandboxError, request, reply) => {
    const answer = toSandboxError(error);
    if (
      answer.statusCode >= 500 &&
      !isInjectedFault(answer) &&
      !(answer instanceof ShuttingDownError)
    ) {
      request.log.error({ err: error }, 'unexpected error');
    } else {
      request.log.info({ code: answer.code, statusCode: answer.statusCode }, answer.message);
    }
    if (answer.retryAfterSeconds !== undefined)
      reply.header('retry-after', String(answer.retryAfterSeconds));
    return reply.code(answer.statusCode).send(answer.toBody());
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new NotFoundError(`no route for ${request.method} ${request.url}`);
    return reply.code(error.statusCode).send(error.toBody());
  });

  app.addHook('preClose', (done) => {
    closing.abort();
    done();
  });
  // server.close() waits for every connection, and one kept alive by a
  // client would hold shutdown for the keep-alive timeout (72 s).
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing.signal.aborted) reply.header('connection', 'close');
    done(null, payload);
  });

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', () => ({ status: 'ok' }));

  for (const service of services) {
    app.post(`/${service}`, (request, reply) => handleServiceCall(service, request, reply));
  }

  /**
   * One call to a third-party API. Checks run in a fixed order: request
   * validation, outage (503), latency, dedupe, 429 draw, 500 draw, accept.
   * Dedupe comes before the fault draws because a repeated key "is answered
   * with the first answer and counted, never applied twice" (DESIGN.md): a
   * real API that already applied a call answers its retry from its own
   * records, whatever else it is refusing. Each rate draws one number from
   * `random` only when it is above 0 and the key is new, so a test can script
   * the sequence. Nothing awaits between the dedupe check and the
   * acceptance, so concurrent calls with one key apply it once.
   */
  async function handleServiceCall(
    service: Service,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<unknown> {
    requireJson(request);
    const idempotencyKey = idempotencyKeyOf(request);

    const downMs = control.downRemainingMs();
    if (downMs > 0) {
      control.stats.status503 += 1;
      throw new ServiceDownFault(Math.ceil(downMs / 1000));
    }

    const { latencyMs } = control.settings;
    if (latencyMs > 0) {
      const outcome = await delay(latencyMs, reply.raw, closing.signal);
      if (outcome === 'client-gone') {
        // Nobody is there to answer, and the call must not count as applied.
        request.log.info(
          { service, idempotencyKey },
          'client disconnected during latency; call not recorded',
        );
        return reply.hijack();
      }
      if (outcome === 'closing') throw new ShuttingDownError('the sandbox is shutting down');
    }

    const first = ledger.repeat(service, idempotencyKey);
    if (first !== undefined) {
      control.stats.repeats += 1;
      // Stripe's header for a replayed answer.
      return reply.code(first.statusCode).header('idempotent-replayed', 'true').send(first.body);
    }

    const { status429Rate, errorRate, retryAfterSeconds } = control.settings;
    if (status429Rate > 0 && random() < status429Rate) {
      control.stats.status429 += 1;
      throw new RateLimitedFault(retryAfterSeconds);
    }
    if (errorRate > 0 && random() < errorRate) {
      control.stats.status500 += 1;
      throw new InjectedFailureFault();
    }

    const receivedAt = new Date(clock()).toISOString();
    const answer = { id: randomUUID(), service, idempotencyKey, receivedAt };
    ledger.accept(
      { service, idempotencyKey, firstAt: receivedAt, body: request.body },
      { statusCode: 201, body: answer },
    );
    control.stats.accepted += 1;
    return reply.code(201).send(answer);
  }

  app.get('/ledger', () => ({ calls: ledger.calls() }));
  app.delete('/ledger', (_request, reply) => {
    ledger.clear();
    return reply.code(204).send();
  });

  app.get('/control', () => control.view());
  app.put('/control', (request) => {
    requireJson(request);
    const parsed = controlUpdateSchema.safeParse(request.body);
    if (!parsed.success) {
      throw new SchemaInvalidError('invalid control settings', {
        issues: parsed.error.issues.map((issue) => ({
          path: issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part)),
          code: issue.code,
          message: issue.message,
        })),
      });
    }
    control.apply(parsed.data);
    request.log.info({ control: parsed.data }, 'control updated');
    return control.view();
  });

  return app;
}

/**
 * POST/PUT bodies must be JSON. Fastify already answers 415 for a body of
 * another type; this also catches a missing or non-JSON Content-Type on a
 * request without a body, which fastify lets through unparsed.
 */
function requireJson(request: FastifyRequest): void {
  const contentType = request.headers['content-type'];
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new UnsupportedMediaTypeError(
      `expected Content-Type application/json, got ${contentType ?? 'none'}`,
    );
  }
}

function idempotencyKeyOf(request: FastifyRequest): string {
  // A string or absent: Node (and fastify's inject) join a repeated custom
  // header into one value with ', '; only set-cookie is ever an array.
  const key = request.headers['idempotency-key'];
  if (typeof key !== 'string' || key.trim() === '') {
    throw new IdempotencyKeyMissingError('the Idempotency-Key header is required');
  }
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new IdempotencyKeyInvalidError(
      `the Idempotency-Key header is over ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
    );
  }
  return key;
}

/**
 * Waits `ms`, unless the client disconnects first (the response closes
 * before it was written) or the server starts closing.
 */
function delay(
  ms: number,
  response: ServerResponse,
  closing: AbortSignal,
): Promise<'elapsed' | 'client-gone' | 'closing'> {
  return new Promise((resolve) => {
    const finish = (outcome: 'elapsed' | 'client-gone' | 'closing'): void => {
      clearTimeout(timer);
      response.off('close', onClose);
      closing.removeEventListener('abort', onClosing);
      resolve(outcome);
    };
    const onClose = (): void => {
      if (!response.writableEnded) finish('client-gone');
    };
    const onClosing = (): void => finish('closing');
    const timer = setTimeout(() => finish('elapsed'), ms);
    response.on('close', onClose);
    closing.addEventListener('abort', onClosing);
    if (closing.aborted) finish('closing');
  });
}

/** Maps whatever a route or fastify threw to the sandbox's own error classes. */
function toSandboxError(error: FastifyError | SandboxError): SandboxError {
  if (error instanceof SandboxError) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaTypeError(error.message);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BodyTooLargeError(`the body is over ${BODY_LIMIT_BYTES} bytes`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new InvalidJsonError(error.message);
  }
  // fastify's JSON parser reports syntax errors as a SyntaxError with statusCode 400.
  if (error instanceof SyntaxError) return new InvalidJsonError(error.message);
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new BadRequestError(error.message);
  }
  return new InternalError(error.message);
}
