/**
 * Ingest keys and dashboard login for a local stack. The apps refuse to start
 * without them, so when the environment has none the stack generates strong
 * random ones, hands them to the children and prints them once.
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';

export type RandomBytes = (size: number) => Buffer;

export interface CredentialsInput {
  /** From API_KEYS; unset or empty means "generate one". */
  apiKeys?: readonly string[] | undefined;
  dashboardUser: string;
  /** From DASHBOARD_PASSWORD; unset means "generate one". */
  dashboardPassword?: string | undefined;
}

export interface Credentials {
  apiKeys: readonly string[];
  dashboardUser: string;
  dashboardPassword: string;
  /** Which values were generated (and so must be printed in full to be usable). */
  generated: { apiKeys: boolean; dashboardPassword: boolean };
}

/** Bytes of entropy in a generated API key: 256 bits, 43 base64url characters. */
export const API_KEY_BYTES = 32;
/** Bytes of entropy in a generated dashboard password: 192 bits, 32 characters. */
export const PASSWORD_BYTES = 24;
/** Marks a Switchyard ingest key, so secret scanners and people can tell what leaked. */
export const API_KEY_PREFIX = 'sy_';

/** A URL-, header- and shell-safe random string ([A-Za-z0-9_-]) of `bytes` bytes of entropy. */
export function generateSecret(
  bytes: number,
  randomBytes: RandomBytes = cryptoRandomBytes,
): string {
  return randomBytes(bytes).toString('base64url');
}

export function resolveCredentials(
  input: CredentialsInput,
  randomBytes: RandomBytes = cryptoRandomBytes,
): Credentials {
  const generateKeys = input.apiKeys === undefined || input.apiKeys.length === 0;
  const generatePassword = input.dashboardPassword === undefined || input.dashboardPassword === '';
  return Object.freeze({
    apiKeys: Object.freeze(
      generateKeys
        ? [API_KEY_PREFIX + generateSecret(API_KEY_BYTES, randomBytes)]
        : [...(input.apiKeys ?? [])],
    ),
    dashboardUser: input.dashboardUser,
    dashboardPassword: generatePassword
      ? generateSecret(PASSWORD_BYTES, randomBytes)
      : (input.dashboardPassword ?? ''),
    generated: Object.freeze({ apiKeys: generateKeys, dashboardPassword: generatePassword }),
  });
}

/** Shows that a secret is set without printing it: the first 4 characters and its length. */
export function maskSecret(secret: string): string {
  return secret.length <= 8 ? '********' : `${secret.slice(0, 4)}… (${secret.length} characters)`;
}
