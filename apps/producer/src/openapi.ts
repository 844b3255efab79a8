/**
 * The OpenAPI 3.1 document served at /openapi.json. Request schemas come
 * from the events package's JSON Schema export (itself generated from the
 * zod catalogue), so the document cannot drift from what is validated.
 */
import { publishRequestJsonSchema } from '@switchyard/events';

export interface OpenApiOptions {
  /** Advertised as the batch's maxItems. */
  batchMaxEvents: number;
  /** Advertised in the 413 description. */
  bodyLimitBytes: number;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ref('Error') } },
});
const json = (schema: unknown) => ({ 'application/json': { schema } });

export function buildOpenApiDocument(options: OpenApiOptions): Record<string, unknown> {
  const { $schema: _dialect, ...publishRequest } = publishRequestJsonSchema();
  const publishResultProperties = {
    eventId: {
      type: 'string',
      format: 'uuid',
      description: 'UUIDv7; for a duplicate, the first publish’s id.',
    },
    idempotencyKey: { type: 'string' },
    status: { enum: ['accepted', 'duplicate'] },
    queues: {
      type: 'array',
      items: { type: 'string' },
      description: 'Subscriber queues holding the event.',
    },
  };
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Switchyard producer',
      version: '1.0.0',
      description:
        'Accepts typed domain events and fans each one out to the queue of every subscriber, atomically, ' +
        'before answering 202.',
    },
    security: [{ bearerAuth: [] }],
    paths: {
      '/v1/events': {
        post: {
          operationId: 'publishEvent',
          summary: 'Publish one event',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description:
                'Wins over `idempotencyKey` in the body. Without either, the key is derived from the type, ' +
                'version, tenant and the schema’s business-key fields.',
              schema: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$' },
            },
          ],
          requestBody: { required: true, content: json(ref('PublishRequest')) },
          responses: {
            '202': {
              description: 'In every subscriber queue (or a duplicate of an event that is).',
              content: json(ref('PublishResult')),
            },
            '400': { $ref: '#/components/responses/BadRequest' },
            '401': { $ref: '#/components/responses/Unauthorized' },
            '409': errorResponse(
              'The idempotency key was used for a different payload within the window.',
            ),
            '413': { $ref: '#/components/responses/TooLarge' },
            '415': { $ref: '#/components/responses/UnsupportedMediaType' },
            '429': { $ref: '#/components/responses/TooManyRequests' },
            '503': { $ref: '#/components/responses/Unavailable' },
          },
        },
      },
      '/v1/events/batch': {
        post: {
          operationId: 'publishEvents',
          summary: 'Publish several events; each is validated and answered on its own',
          requestBody: { required: true, content: json(ref('BatchRequest')) },
          responses: {
            '202': {
              description:
                'One result per event, in request order. Items refused for backpressure are ' +
                '`rejected` with error SY_ERR_BACKLOG_FULL (details.retryAfterSeconds); the others ' +
                'are answered as usual. A batch is answered 429 as a whole only for the API key’s ' +
                'rate limit.',
              content: json(ref('BatchResult')),
            },
            '400': { $ref: '#/components/responses/BadRequest' },
            '401': { $ref: '#/components/responses/Unauthorized' },
            '413': { $ref: '#/components/responses/TooLarge' },
            '415': { $ref: '#/components/responses/UnsupportedMediaType' },
            '429': { $ref: '#/components/responses/RateLimited' },
            '503': { $ref: '#/components/responses/Unavailable' },
          },
        },
      },
      '/healthz': {
        get: {
          operationId: 'liveness',
          security: [],
          responses: {
            '200': { description: 'The process is alive.', content: json({ type: 'object' }) },
          },
        },
      },
      '/readyz': {
        get: {
          operationId: 'readiness',
          security: [],
          responses: {
            '200': {
              description: 'Redis answers and the server is not draining.',
              content: json(ref('Readiness')),
            },
            '503': {
              description: 'Redis is unreachable or the server is draining.',
              content: json(ref('Readiness')),
            },
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          security: [],
          responses: {
            '200': {
              description: 'Prometheus text format.',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openapi',
          security: [],
          responses: {
            '200': { description: 'This document.', content: json({ type: 'object' }) },
          },
        },
      },
    },
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'One of the keys in API_KEYS.' },
      },
      schemas: {
        PublishRequest: publishRequest,
        PublishResult: {
          type: 'object',
          additionalProperties: false,
          required: Object.keys(publishResultProperties),
          properties: publishResultProperties,
        },
        BatchRequest: {
          type: 'array',
          minItems: 1,
          maxItems: options.batchMaxEvents,
          items: ref('PublishRequest'),
        },
        BatchResult: {
          type: 'object',
          required: ['results'],
          properties: { results: { type: 'array', items: ref('BatchItemResult') } },
        },
        BatchItemResult: {
          oneOf: [
            {
              type: 'object',
              required: ['index', ...Object.keys(publishResultProperties)],
              properties: { index: { type: 'integer', minimum: 0 }, ...publishResultProperties },
            },
            {
              type: 'object',
              required: ['index', 'status', 'error'],
              properties: {
                index: { type: 'integer', minimum: 0 },
                status: { const: 'rejected' },
                error: ref('ErrorDetail'),
              },
            },
          ],
        },
        Error: { type: 'object', required: ['error'], properties: { error: ref('ErrorDetail') } },
        ErrorDetail: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: {
              type: 'string',
              description: 'Stable; switch on it, not on the message.',
              examples: [
                'SY_ERR_SCHEMA_INVALID',
                'SY_ERR_IDEMPOTENCY_CONFLICT',
                'SY_ERR_BACKLOG_FULL',
                'SY_ERR_RATE_LIMITED',
                'SY_ERR_REDIS_UNAVAILABLE',
              ],
            },
            message: { type: 'string' },
            details: {
              description: 'For schema errors: the issues, each with path, code and message.',
            },
          },
        },
        Readiness: {
          type: 'object',
          required: ['status'],
          properties: { status: { enum: ['ready', 'not ready'] }, reason: { type: 'string' } },
        },
      },
      responses: {
        BadRequest: errorResponse(
          'Not JSON, or not a valid event (schema, unknown type or version, empty batch).',
        ),
        Unauthorized: errorResponse('Missing, unknown or revoked API key.'),
        TooLarge: errorResponse(
          `Body over ${options.bodyLimitBytes} bytes, or a batch over ${options.batchMaxEvents} events.`,
        ),
        UnsupportedMediaType: errorResponse('The body is not application/json.'),
        TooManyRequests: {
          description:
            'SY_ERR_BACKLOG_FULL — backpressure: a subscriber queue’s backlog (waiting + ' +
            'prioritized + due delayed jobs) is at its limit. Nothing was enqueued and the key was ' +
            'not used: retry the same request after Retry-After. Details: queue, backlog, limit, ' +
            'retryAfterSeconds. A key already accepted is still answered 202 duplicate. ' +
            'Or SY_ERR_RATE_LIMITED: see RateLimited.',
          headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds.' } },
          content: json(ref('Error')),
        },
        RateLimited: {
          description:
            'SY_ERR_RATE_LIMITED: the API key made its limit of requests (API_KEY_RATE_LIMIT_PER_MINUTE, ' +
            'shared by all producer replicas) in the current one-minute window. Nothing was done; ' +
            'retry after Retry-After, the seconds left in the window. Details: limit, ' +
            'windowSeconds, retryAfterSeconds.',
          headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds.' } },
          content: json(ref('Error')),
        },
        Unavailable: {
          description: 'Redis is unreachable or the server is draining; retry.',
          headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds.' } },
          content: json(ref('Error')),
        },
      },
    },
  };
}
