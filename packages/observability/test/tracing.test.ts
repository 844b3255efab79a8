import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  activeTraceIds,
  createLogger,
  isTracingEnabled,
  startClientSpan,
  startServerSpan,
  startTracing,
  tracesEndpointOf,
  tracingEnvSchema,
  type StopTracing,
} from '../src/index.js';

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  service: string;
  attributes: Record<string, unknown>;
}

/** A minimal OTLP/HTTP JSON receiver: every span posted to /v1/traces, flattened. */
async function startReceiver() {
  const spans: ExportedSpan[] = [];
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: { stringValue?: string } }[] };
          scopeSpans: {
            spans: (Omit<ExportedSpan, 'service' | 'attributes'> & {
              attributes: { key: string; value: Record<string, unknown> }[];
            })[];
          }[];
        }[];
      };
      for (const resourceSpans of body.resourceSpans) {
        const service = resourceSpans.resource.attributes.find((a) => a.key === 'service.name')
          ?.value.stringValue;
        for (const scope of resourceSpans.scopeSpans) {
          for (const span of scope.spans) {
            spans.push({
              ...span,
              service: service ?? '',
              attributes: Object.fromEntries(
                span.attributes.map((a) => [a.key, Object.values(a.value)[0]]),
              ),
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    spans,
    paths,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { lines, destination };
}

const incomingTraceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const incomingSpanId = '00f067aa0ba902b7';

let stop: StopTracing | undefined;
let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;

afterEach(async () => {
  await stop?.();
  stop = undefined;
  await receiver?.close();
  receiver = undefined;
});

describe('tracing', () => {
  describe('without an OTLP endpoint', () => {
    it('stays off: no spans, no ids on log lines, nothing to inject', async () => {
      stop = await startTracing({ serviceName: 'test', env: {} });
      expect(isTracingEnabled()).toBe(false);
      expect(
        startServerSpan({ method: 'GET', path: '/', headers: { traceparent: 'x' } }),
      ).toBeUndefined();
      expect(startClientSpan({ method: 'POST', url: 'http://127.0.0.1:1/x' })).toBeUndefined();
      expect(activeTraceIds()).toBeUndefined();
      const { lines, destination } = capture();
      createLogger({ name: 'test', destination }).info('hello');
      expect(lines[0]).not.toHaveProperty('traceId');
    });

    it('stays off when OTEL_SDK_DISABLED is true, endpoint or not', () => {
      const env = tracingEnvSchema.parse({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
        OTEL_SDK_DISABLED: 'true',
      });
      expect(tracesEndpointOf(env)).toBeUndefined();
    });
  });

  describe('the traces URL', () => {
    it('appends /v1/traces to the base endpoint; the traces endpoint is used as given', () => {
      expect(
        tracesEndpointOf(tracingEnvSchema.parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' })),
      ).toBe('http://c:4318/v1/traces');
      expect(
        tracesEndpointOf(
          tracingEnvSchema.parse({
            OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:9999/custom',
          }),
        ),
      ).toBe('http://t:9999/custom');
    });
  });

  describe('with an OTLP endpoint', () => {
    it('exports linked server and client spans as OTLP JSON and stamps log lines', async () => {
      receiver = await startReceiver();
      stop = await startTracing({
        serviceName: 'unit',
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' },
      });
      expect(isTracingEnabled()).toBe(true);
      const { lines, destination } = capture();
      const logger = createLogger({ name: 'unit', destination });

      const server = startServerSpan({
        method: 'POST',
        path: '/v1/events',
        route: '/v1/events',
        headers: { traceparent: `00-${incomingTraceId}-${incomingSpanId}-01` },
      });
      expect(server).toBeDefined();
      const client = await server!.run(async () => {
        await Promise.resolve();
        logger.info('inside');
        return startClientSpan({
          method: 'POST',
          url: 'http://127.0.0.1:3002/email',
          name: 'POST /email',
        });
      });
      logger.info('outside');
      expect(client!.headers.traceparent).toMatch(
        new RegExp(`^00-${incomingTraceId}-[0-9a-f]{16}-01$`),
      );
      client!.end(502);
      server!.end(202);
      await stop();
      stop = undefined;
      expect(isTracingEnabled()).toBe(false);

      expect(receiver.paths).toContain('POST /v1/traces application/json');
      const serverSpan = receiver.spans.find((s) => s.name === 'POST /v1/events');
      const clientSpan = receiver.spans.find((s) => s.name === 'POST /email');
      expect(serverSpan).toMatchObject({
        traceId: incomingTraceId,
        parentSpanId: incomingSpanId,
        kind: 2,
        service: 'unit',
        attributes: { 'http.route': '/v1/events', 'http.response.status_code': 202 },
      });
      expect(clientSpan).toMatchObject({
        traceId: incomingTraceId,
        parentSpanId: serverSpan!.spanId,
        kind: 3,
        attributes: { 'http.response.status_code': 502, 'error.type': '502' },
      });
      // The header sent downstream names the client span as the parent.
      expect(client!.headers.traceparent).toBe(`00-${incomingTraceId}-${clientSpan!.spanId}-01`);
      expect(lines[0]).toMatchObject({
        msg: 'inside',
        traceId: incomingTraceId,
        spanId: serverSpan!.spanId,
      });
      expect(lines[1]).not.toHaveProperty('traceId');
    });
  });
});
