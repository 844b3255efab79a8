import type { Service } from './services.js';

/** What `GET /ledger` shows for one accepted call. */
export interface LedgerCall {
  service: Service;
  idempotencyKey: string;
  /** Calls with the same key after the first; each got the first answer. */
  repeats: number;
  /** ISO-8601 time of the first (applied) call. */
  firstAt: string;
  /** The request body of the first call. */
  body: unknown;
}

/** The answer given to the first call, replayed verbatim to repeats. */
export interface StoredAnswer {
  statusCode: number;
  body: unknown;
}

interface Entry {
  call: LedgerCall;
  answer: StoredAnswer;
}

/**
 * Accepted calls in acceptance order, indexed by (service, idempotencyKey).
 * Only accepted calls are recorded, so a call that failed on an injected
 * fault leaves no trace and its retry is applied. It lives in memory and is
 * unbounded: the sandbox is for tests and demos, and DELETE /ledger empties it.
 */
export class Ledger {
  private readonly entries: Entry[] = [];
  private readonly byKey = new Map<string, Entry>();

  /** The first answer for this key, counting the lookup as a repeat; undefined if new. */
  repeat(service: Service, idempotencyKey: string): StoredAnswer | undefined {
    const entry = this.byKey.get(keyOf(service, idempotencyKey));
    if (entry === undefined) return undefined;
    entry.call.repeats += 1;
    return entry.answer;
  }

  accept(call: Omit<LedgerCall, 'repeats'>, answer: StoredAnswer): void {
    const entry: Entry = { call: { ...call, repeats: 0 }, answer };
    this.entries.push(entry);
    this.byKey.set(keyOf(call.service, call.idempotencyKey), entry);
  }

  calls(): LedgerCall[] {
    return this.entries.map((entry) => ({ ...entry.call }));
  }

  /** Forgets every call, so their keys are new again. */
  clear(): void {
    this.entries.length = 0;
    this.byKey.clear();
  }
}

// NUL cannot occur in an HTTP header value, so keys of different services never collide.
function keyOf(service: Service, idempotencyKey: string): string {
  return `${service}\u0000${idempotencyKey}`;
}
