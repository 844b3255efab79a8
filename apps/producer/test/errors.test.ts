import { describe, expect, it } from 'vitest';
import {
  IdempotencyConflictError,
  IdempotencyRecordInvalidError,
  PublisherClosedError,
  RedisUnavailableError,
} from '@switchyard/client';
import {
  SchemaInvalidError,
  UnknownEventTypeError,
  UnknownEventVersionError,
} from '@switchyard/events';
import {
  BatchTooLargeError,
  MethodNotAllowedError,
  UnauthorizedError,
  httpAnswerOf,
} from '../src/errors.js';

describe('httpAnswerOf', () => {
  describe('when the error is one the producer knows', () => {
    it.each([
      [new SchemaInvalidError('x'), 400, 'SY_ERR_SCHEMA_INVALID'],
      [new UnknownEventTypeError('x'), 400, 'SY_ERR_UNKNOWN_EVENT_TYPE'],
      [new UnknownEventVersionError('x'), 400, 'SY_ERR_UNKNOWN_EVENT_VERSION'],
      [new UnauthorizedError('x'), 401, 'SY_ERR_UNAUTHORIZED'],
      [new MethodNotAllowedError('x', ['POST']), 405, 'SY_ERR_METHOD_NOT_ALLOWED'],
      [new IdempotencyConflictError('x'), 409, 'SY_ERR_IDEMPOTENCY_CONFLICT'],
      [new BatchTooLargeError('x'), 413, 'SY_ERR_BATCH_TOO_LARGE'],
      [new IdempotencyRecordInvalidError('x'), 500, 'SY_ERR_IDEMPOTENCY_RECORD_INVALID'],
      [new RedisUnavailableError('x'), 503, 'SY_ERR_REDIS_UNAVAILABLE'],
      [new PublisherClosedError('x'), 503, 'SY_ERR_PUBLISHER_CLOSED'],
    ])('maps %o to its status and code', (error, status, code) => {
      expect(httpAnswerOf(error)).toMatchObject({
        status,
        body: { error: { code, message: 'x' } },
      });
    });

    it('sends Retry-After with every 503', () => {
      expect(httpAnswerOf(new RedisUnavailableError('x'))?.headers).toEqual({ 'retry-after': '1' });
    });
  });

  describe('when the error comes from fastify', () => {
    it.each([
      ['FST_ERR_CTP_INVALID_JSON_BODY', 400, 400, 'SY_ERR_INVALID_JSON'],
      ['FST_ERR_CTP_BODY_TOO_LARGE', 413, 413, 'SY_ERR_BODY_TOO_LARGE'],
      ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 415, 'SY_ERR_UNSUPPORTED_MEDIA_TYPE'],
      ['FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400, 400, 'SY_ERR_BAD_REQUEST'],
    ])('maps %s by its code', (fastifyCode, statusCode, status, code) => {
      const error = Object.assign(new Error('fastify says no'), { code: fastifyCode, statusCode });
      expect(httpAnswerOf(error)).toMatchObject({ status, body: { error: { code } } });
    });
  });

  describe("when fastify marks an error as the request's fault without a code", () => {
    it.each([
      ['an aborted upload', Object.assign(new Error('aborted'), { statusCode: 400 })],
      [
        'a code that is an Object.prototype key',
        Object.assign(new Error('x'), { code: 'constructor', statusCode: 400 }),
      ],
    ])('answers 400 for %s, never 500', (_name, error) => {
      expect(httpAnswerOf(error)).toMatchObject({
        status: 400,
        body: { error: { code: 'SY_ERR_BAD_REQUEST' } },
      });
    });
  });

  describe('when the error is unknown', () => {
    it.each([
      ['a TypeError', new TypeError('boom')],
      [
        'a fastify 5xx',
        Object.assign(new Error('x'), { code: 'FST_ERR_SOMETHING', statusCode: 500 }),
      ],
      ['a thrown string', 'boom'],
    ])('answers nothing for %s, so the caller answers 500 and logs it', (_name, error) => {
      expect(httpAnswerOf(error)).toBeUndefined();
    });
  });
});
