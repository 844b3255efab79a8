/**
 * OpenTelemetry tracing: off unless an OTLP endpoint is configured.
 *
 * Off (the default) costs nothing: the SDK and the exporter are never
 * imported, only `@opentelemetry/api`, whose calls are no-ops; the helpers
 * below return `undefined` at once, and callers pass no telemetry to BullMQ,
 * so no trace context is written into jobs.
 *
 * On (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
 * set, `OTEL_SDK_DISABLED` not true): `startTracing` registers a Node tracer
 * provider (AsyncLocalStorage context, W3C `traceparent` + baggage
 * propagation) whose batch span processor exports OTLP/HTTP JSON. The spans
 * of one event form one trace across processes:
 *
 *   producer  `POST /v1/events` (server, continues an incoming traceparent)
 *               -> `addBulkFlows` -> `addNode <queue>` (producer, BullMQ)
 *   worker    `process <queue>` (consumer, BullMQ, parent read from the job)
 *               -> `POST /email` ... (client, traceparent sent downstream)
 *
 * Log lines written while a span is active carry its `traceId` and `spanId`
 * (createLogger), dead-letter records its `traceId`.
 */
import {
  DiagLogLevel,
  SpanKind,
  SpanStatusCode,
  context,
  diag,
  propagation,
  trace,
} from '@opentelemetry/api';
import { z } from 'zod';
import type { Logger } from 'pino';
import { loadEnvOrExit } from './parse-env.js';

/** The variables startTracing reads (the OpenTelemetry standard names). */
export const tracingEnvSchema = z.object({
  /**
   * OTLP/HTTP base URL, e.g. http://collector:4318; spans go to `<it>/v1/traces`.
   * Unset (and no traces endpoint): tracing is off. Default: unset.
   */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /** Full URL spans are posted to; wins over OTEL_EXPORTER_OTLP_ENDPOINT. Default: unset. */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /** `service.name` of the spans. Default: the app's name (producer, worker-billing, ...). */
  OTEL_SERVICE_NAME: z.string().min(1).max(200).optional(),
  /** Turns tracing off even with an endpoint set. Default: false. */
  OTEL_SDK_DISABLED: z.stringbool().default(false),
  /** Batch span processor: ms between exports. Default: 5000. */
  OTEL_BSP_SCHEDULE_DELAY: z.coerce.number().int().min(1).max(600_000).default(5_000),
  /** Batch span processor: spans buffered at most; more are dropped. Default: 2048. */
  OTEL_BSP_MAX_QUEUE_SIZE: z.coerce.number().int().min(1).max(1_000_000).default(2_048),
  /** Bound on one export request, in ms. Default: 10000. */
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: z.coerce.number().int().min(1).max(600_000).default(10_000),
});

export interface StartTracingOptions {
  /** `service.name` unless OTEL_SERVICE_NAME is set, e.g. 'producer'. */
  serviceName: string;
  /**
   * The environment to read the OTEL_* variables from (the app passes
   * `process.env`). A bad value prints the variable and exits 1, like every
   * app's own config.
   */
  env: Record<string, string | undefined>;
  /** Where export failures are reported (warn). Default: nowhere. */
  logger?: Logger;
  /** Bound on the final flush of stopTracing, in ms. Default: 2000. */
  shutdownTimeoutMs?: number;
}

/**
 * Flushes the spans still buffered and unregisters the provider; bounded by
 * `shutdownTimeoutMs`. Resolves, never rejects; idempotent.
 */
export type StopTracing = () => Promise<void>;

/** True between a startTracing that turned tracing on and its stop. */
let enabled = false;

/** Whether this process exports spans. Helpers below are no-ops when it does not. */
export function isTracingEnabled(): boolean {
  return enabled;
}

/** The OTLP traces URL the environment names, or undefined when tracing stays off. */
export function tracesEndpointOf(env: z.infer<typeof tracingEnvSchema>): string | undefined {
  if (env.OTEL_SDK_DISABLED) return undefined;
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined) {
    return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  }
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined) {
    return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  }
  return undefined;
}

const noop: StopTracing = () => Promise.resolve();

/**
 * Turns tracing on when the environment names an OTLP endpoint; otherwise
 * loads nothing and returns a no-op. Call it first in a process, before
 * servers and workers start, and await the returned StopTracing last.
 */
export async function startTracing(options: StartTracingOptions): Promise<StopTracing> {
  const env = loadEnvOrExit(tracingEnvSchema, options.env);
  const url = tracesEndpointOf(env);
  if (url === undefined || enabled) return noop;
  // Loaded only now: with tracing off no SDK module is ever imported.
  const [
    { NodeTracerProvider, BatchSpanProcessor },
    { OTLPTraceExporter },
    { resourceFromAttributes },
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  if (options.logger) {
    const logger = options.logger;
    // One warn line per problem (an export that failed after its retries, a bad sampler, ...).
    const report = (message: string, ...args: unknown[]) =>
      logger.warn(
        { detail: [message, ...args.map(String)].join(' ').slice(0, 1_000) },
        'OpenTelemetry: tracing problem',
      );
    diag.setLogger(
      {
        error: report,
        warn: report,
        info: () => undefined,
        debug: () => undefined,
        verbose: () => undefined,
      },
      DiagLogLevel.WARN,
    );
  }
  const exporter = new OTLPTraceExporter({
    url,
    timeoutMillis: env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
  });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME ?? options.serviceName,
      'service.instance.id': `${options.serviceName}-${process.pid}`,
    }),
    spanProcessors: [
      new BatchSpanProcessor(exporter, {
        scheduledDelayMillis: env.OTEL_BSP_SCHEDULE_DELAY,
        maxQueueSize: env.OTEL_BSP_MAX_QUEUE_SIZE,
        maxExportBatchSize: Math.min(512, env.OTEL_BSP_MAX_QUEUE_SIZE),
        exportTimeoutMillis: env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
      }),
    ],
  });
  provider.register();
  enabled = true;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 2_000;

  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, shutdownTimeoutMs);
        timer.unref();
      });
      await Promise.race([provider.shutdown().catch(() => undefined), timedOut]);
      clearTimeout(timer);
      enabled = false;
      trace.disable();
      context.disable();
      propagation.disable();
      diag.disable();
    })();
    return stopping;
  };
}

/** Ids of the active span, as written on log lines and dead-letter records. */
export interface TraceIds {
  traceId: string;
  spanId: string;
}

/** The active span's ids; undefined when tracing is off or no valid span is active. */
export function activeTraceIds(): TraceIds | undefined {
  if (!enabled) return undefined;
  const span = trace.getSpan(context.active());
  if (span === undefined) return undefined;
  const { traceId, spanId } = span.spanContext();
  return trace.isSpanContextValid(span.spanContext()) ? { traceId, spanId } : undefined;
}

const tracerName = '@switchyard/observability';

/** An HTTP server span: `run` makes it the active span for what follows. */
export interface ServerSpan {
  /** Runs `fn` with this span active (and everything `fn` starts, through AsyncLocalStorage). */
  run<T>(fn: () => T): T;
  /** Ends the span with the answer's status; 5xx marks it an error. Idempotent. */
  end(statusCode: number, route?: string): void;
}

export interface ServerRequestInfo {
  method: string;
  /** The path without the query string. */
  path: string;
  /** The route template (`/v1/events`); undefined for an unmatched path. */
  route?: string | undefined;
  /** Incoming headers: a W3C `traceparent` among them makes the span continue that trace. */
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Starts a server span for an incoming request, as the child of the
 * caller's `traceparent` when it sent one. Undefined when tracing is off.
 */
export function startServerSpan(request: ServerRequestInfo): ServerSpan | undefined {
  if (!enabled) return undefined;
  const parent = propagation.extract(context.active(), request.headers);
  const span = trace.getTracer(tracerName).startSpan(
    `${request.method} ${request.route ?? request.path}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': request.method,
        'url.path': request.path,
        ...(request.route === undefined ? {} : { 'http.route': request.route }),
      },
    },
    parent,
  );
  const active = trace.setSpan(parent, span);
  let ended = false;
  return {
    run: (fn) => context.with(active, fn),
    end(statusCode, route) {
      if (ended) return;
      ended = true;
      span.setAttribute('http.response.status_code', statusCode);
      if (route !== undefined) span.setAttribute('http.route', route);
      if (statusCode >= 500) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.setAttribute('error.type', String(statusCode));
      }
      span.end();
    },
  };
}

/** An HTTP client span around one outgoing call. */
export interface ClientSpan {
  /** Headers to send with the call: `traceparent` (and `tracestate`/`baggage` when set). */
  readonly headers: Record<string, string>;
  /** Ends the span with the answer's status (4xx and 5xx mark it an error). Idempotent. */
  end(statusCode: number): void;
  /** Ends the span as failed without an answer (timeout, network error, abort). Idempotent. */
  fail(error: unknown): void;
}

/**
 * Starts a client span, child of the active span, for a call to `url`.
 * Undefined when tracing is off.
 */
export function startClientSpan(call: {
  method: string;
  url: string;
  name?: string;
}): ClientSpan | undefined {
  if (!enabled) return undefined;
  const url = new URL(call.url);
  const span = trace.getTracer(tracerName).startSpan(call.name ?? call.method, {
    kind: SpanKind.CLIENT,
    attributes: {
      'http.request.method': call.method,
      'url.full': `${url.origin}${url.pathname}`,
      'server.address': url.hostname,
      ...(url.port === '' ? {} : { 'server.port': Number(url.port) }),
    },
  });
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), headers);
  let ended = false;
  const finish = (
    error: { type: string; message?: string } | undefined,
    attributes: Record<string, number>,
  ) => {
    if (ended) return;
    ended = true;
    span.setAttributes(attributes);
    if (error) {
      span.setAttribute('error.type', error.type);
      span.setStatus({
        code: SpanStatusCode.ERROR,
        ...(error.message === undefined ? {} : { message: error.message }),
      });
    }
    span.end();
  };
  return {
    headers,
    end(statusCode) {
      finish(statusCode >= 400 ? { type: String(statusCode) } : undefined, {
        'http.response.status_code': statusCode,
      });
    },
    fail(error) {
      const type =
        error instanceof Error
          ? (((error as { code?: unknown }).code as string | undefined) ?? error.name)
          : 'unknown';
      finish(
        { type: String(type), ...(error instanceof Error ? { message: error.message } : {}) },
        {},
      );
    },
  };
}
