/**
 * The chaos suite's environment, read once. `SY_CHAOS_SOAK` multiplies every
 * scenario's size (events, faults) for a longer soak run: `pnpm test:chaos
 * --soak` sets it to 10, `--soak=<n>` to n (scripts/run-chaos.mjs).
 */
import { z } from 'zod';
import { ChaosUsageError } from './errors.js';

const schema = z.object({
  /** Multiplier of scenario sizes, 1..1000. Default 1 (CI size). */
  SY_CHAOS_SOAK: z.coerce.number().int().min(1).max(1000).default(1),
  /** Where recordScenario writes its rows. Default packages/chaos/results/latest.json. */
  SY_CHAOS_RESULTS: z.string().min(1).optional(),
});

export type ChaosEnv = Readonly<z.infer<typeof schema>>;

let parsed: ChaosEnv | undefined;

/** The parsed environment; a bad value throws, naming the variable. */
export function chaosEnv(): ChaosEnv {
  if (parsed !== undefined) return parsed;
  const result = schema.safeParse(process.env);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ChaosUsageError(`${issue.path.join('.')}: ${issue.message}`);
  }
  parsed = Object.freeze(result.data);
  return parsed;
}

/** `n` scaled by SY_CHAOS_SOAK. */
export function soak(n: number): number {
  return n * chaosEnv().SY_CHAOS_SOAK;
}
