/**
 * `sy publish <type> --data <json>`: one event through @switchyard/client's
 * createPublisher, so it is validated against the catalogue, keyed and fanned
 * out exactly as the producer does. Direct to Redis by default; over HTTP to
 * a producer with --url and --api-key.
 */
import { createPublisher, type TransportPublisher } from '@switchyard/client';
import { subscribersOf } from '@switchyard/events';
import {
  flagArg,
  integerArg,
  noExtraPositionals,
  requirePositionals,
  stringArg,
  writeJson,
  type Command,
  type ParsedArgs,
} from '../command.js';
import { OperationError, UsageError } from '../errors.js';

/**
 * The CLI takes any type string, so it uses the publisher's untyped face
 * (TransportPublisher); type and data are checked at run time all the same.
 */
function untyped(publisher: unknown): TransportPublisher {
  return publisher as TransportPublisher;
}

interface IssueLike {
  path: (string | number)[];
  message: string;
}

function httpTarget(args: ParsedArgs): { baseUrl: string; apiKey: string } | undefined {
  const url = stringArg(args, 'url');
  const apiKey = stringArg(args, 'api-key');
  if (url === undefined) {
    if (apiKey !== undefined) throw new UsageError('--api-key only goes with --url');
    return undefined;
  }
  if (flagArg(args, 'redis-direct'))
    throw new UsageError('--url and --redis-direct exclude each other');
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    throw new UsageError(`--url ${JSON.stringify(url)} must be an http:// or https:// URL`);
  }
  if (apiKey === undefined || apiKey === '') throw new UsageError('--url needs --api-key');
  return { baseUrl: url, apiKey };
}

/** `SY_ERR_SCHEMA_INVALID: data.email: Invalid email address; ...` from the client's errors. */
function describePublishError(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const { code, message } = error as { code: unknown; message?: unknown };
  if (typeof code !== 'string' || !code.startsWith('SY_ERR_')) return undefined;
  const details = (error as { details?: unknown }).details;
  const issues = Array.isArray(details)
    ? (details as IssueLike[])
        .filter((issue) => Array.isArray(issue.path))
        .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    : [];
  return `${code}: ${String(message)}${issues.length > 0 ? ` (${issues.join('; ')})` : ''}`;
}

export const publishCommand: Command = {
  name: 'publish',
  summary: 'publish one event, validated against the catalogue',
  usage: `Usage: sy publish <type> --data '<json>' [--version n] [--tenant t] [--key k]
                  [--redis-direct | --url <producer> --api-key <key>] [--json]

Validates the event against its schema and fans it out to every subscriber
of <type>, exactly as the producer does. Publishing the same fact again (same
idempotency key and payload) is answered "duplicate" and enqueues nothing.

Options:
  --data <json>      the event's data (required)
  --version <n>      catalogue version of the data (default: the newest)
  --tenant <t>       tenant id; scopes the idempotency key
  --key <k>          idempotency key (default: derived from the business key)
  --redis-direct     straight to the queues' Redis (the default)
  --url <url>        through the producer's HTTP API instead, e.g. http://127.0.0.1:3000
  --api-key <key>    one of the producer's API_KEYS (with --url)
  --json             {"eventId", "idempotencyKey", "status", "queues"}

Exit code 1 when the event is refused (invalid, conflicting key, backlog full).

Examples:
  sy publish user.signed_up --data '{"userId":"u_1","email":"ada@example.com","tier":"pro","locale":"en"}'
  sy publish payment.failed --tenant acme --url http://127.0.0.1:3000 --api-key "$KEY" \\
    --data '{"userId":"u_1","invoiceId":"inv_1","amountCents":1999,"currency":"EUR","reason":"card_declined"}'
`,
  options: {
    data: { type: 'string' },
    version: { type: 'string' },
    tenant: { type: 'string' },
    key: { type: 'string' },
    'redis-direct': { type: 'boolean' },
    url: { type: 'string' },
    'api-key': { type: 'string' },
  },
  needsRedis: (args) => stringArg(args, 'url') === undefined,
  async run(args, context) {
    const [type] = requirePositionals(args, ['type'], 'publish');
    noExtraPositionals(args, 1, 'publish');
    const rawData = stringArg(args, 'data');
    if (rawData === undefined) throw new UsageError("publish: --data '<json>' is required");
    let data: unknown;
    try {
      data = JSON.parse(rawData);
    } catch (error) {
      throw new UsageError(`--data is not valid JSON: ${(error as Error).message}`);
    }
    const version = integerArg(args, 'version', 1, 1_000);
    const tenantId = stringArg(args, 'tenant');
    const idempotencyKey = stringArg(args, 'key');
    const http = httpTarget(args);
    const publisher = untyped(
      createPublisher(http ?? { redis: context.redis!, prefix: context.config.prefix }),
    );
    try {
      const options = {
        ...(version === undefined ? {} : { version }),
        ...(tenantId === undefined ? {} : { tenantId }),
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
        // Ctrl-C stops an HTTP publish and its retry waits.
        ...(context.signal === undefined ? {} : { signal: context.signal }),
      };
      const result = await publisher.publish(type!, data, options);
      if (flagArg(args, 'json')) {
        writeJson(context.stdout, result);
      } else {
        const queues = result.queues.length > 0 ? result.queues.join(', ') : 'no subscriber';
        context.stdout.write(
          `${result.status}: event ${result.eventId} (key ${result.idempotencyKey}) -> ${queues}\n`,
        );
        if (result.status === 'accepted' && subscribersOf(type!).length === 0) {
          context.stderr.write(`note: no subscriber receives ${type}\n`);
        }
      }
      return 0;
    } catch (error) {
      const described = describePublishError(error);
      if (described !== undefined) throw new OperationError(described, { cause: error });
      throw error;
    } finally {
      await publisher.close();
    }
  },
};
