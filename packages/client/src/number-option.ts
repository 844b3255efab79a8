/**
 * Checks a numeric publisher option when the publisher is built, so a value
 * read from an environment string (NaN, a fraction, Infinity, a negative)
 * fails at once with its name instead of silently disabling a bound.
 */
import { PublisherOptionError } from './errors.js';

/** An integer in [min, max] (max defaults to the largest safe timer, ~24.8 days, for ms values). */
export function integerOption(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max = 2_147_483_647,
): number {
  const chosen = value ?? fallback;
  if (!Number.isInteger(chosen) || chosen < min || chosen > max) {
    throw new PublisherOptionError(
      `${name} must be an integer from ${min} to ${max}, got ${chosen}`,
    );
  }
  return chosen;
}

/** A backlog limit: a non-negative integer, or Infinity for none. */
export function limitOption(name: string, value: number): number {
  if (value !== Infinity && !(Number.isInteger(value) && value >= 0)) {
    throw new PublisherOptionError(
      `${name} must be a non-negative integer or Infinity, got ${value}`,
    );
  }
  return value;
}
