/**
 * An in-process cap on how many calls of one kind run at once; callers over
 * the cap wait in arrival order. Used for a handler's own `concurrency` when
 * it is lower than its worker's.
 */
export interface ConcurrencyLimit {
  /** Runs `fn` once a slot is free; the slot is released when its promise settles. */
  run<T>(fn: () => Promise<T>): Promise<T>;
}

export function createConcurrencyLimit(max: number): ConcurrencyLimit {
  let running = 0;
  const waiting: (() => void)[] = [];

  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  };

  return {
    async run<T>(fn: () => Promise<T>): Promise<T> {
      if (running < max) running += 1;
      // A released slot passes straight to the next waiter, so `running` is unchanged.
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await fn();
      } finally {
        release();
      }
    },
  };
}
