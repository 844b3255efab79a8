/**
 * Errors raised while turning a publisher's input into an event envelope.
 * Each has a stable `code`; transports derive their answer from the class
 * (the producer maps every one of these to 400), never from the message.
 */
import type { z } from 'zod';

export interface EventIssue {
  path: (string | number)[];
  code: string;
  message: string;
}

export abstract class EventError extends Error {
  abstract readonly code: string;
  readonly details: EventIssue[] | undefined;

  constructor(message: string, details?: EventIssue[]) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

/** The input (envelope or `data`) does not match its schema. */
export class SchemaInvalidError extends EventError {
  readonly code = 'SY_ERR_SCHEMA_INVALID';
}

/** No event type of that name is in the catalogue. */
export class UnknownEventTypeError extends EventError {
  readonly code = 'SY_ERR_UNKNOWN_EVENT_TYPE';
}

/** The type exists but not in that version. */
export class UnknownEventVersionError extends EventError {
  readonly code = 'SY_ERR_UNKNOWN_EVENT_VERSION';
}

/** Flattens zod issues into a small, JSON-safe list (no input values echoed back). */
export function toIssues(error: z.ZodError, prefix: (string | number)[] = []): EventIssue[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))],
    code: issue.code,
    message: issue.message,
  }));
}
