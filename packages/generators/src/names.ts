/**
 * Naming rules for what the generators create, checked before anything is
 * written.
 *
 * - Event types: dotted lower-case snake_case words, a noun then what
 *   happened to it (`order.shipped`, `invoice_line.paid`), at most 100
 *   characters, as the catalogue's `eventTypeName` field requires.
 * - Subscribers: kebab-case (`fraud-check`), at most 40 characters, so
 *   `worker-<name>` stays a valid Kubernetes name (63) and a BullMQ queue
 *   name without `:`; the subscriber's queue is `<name>`, its DLQ
 *   `<name>.dlq`, its app `apps/worker-<name>`.
 */
import { InvalidNameError, ReservedNameError } from './errors.js';

const eventTypePattern = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*(?:\.[a-z][a-z0-9]*(?:_[a-z0-9]+)*)+$/;
const subscriberPattern = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

export const maxEventTypeLength = 100;
export const maxSubscriberNameLength = 40;

/**
 * Names a subscriber may not take: queues and apps Switchyard already runs
 * under these names (the schedules queue, `*.dlq`), the apps in apps/, and
 * words that would read as one of them.
 */
export const reservedSubscriberNames: readonly string[] = [
  'cli',
  'dashboard',
  'dlq',
  'events',
  'generators',
  'producer',
  'sandbox',
  'schedules',
  'stack',
  'switchyard',
  'worker',
  'workers',
];

/** Event namespaces kept for Switchyard's own events. */
export const reservedEventNamespaces: readonly string[] = ['dlq', 'schedules', 'switchyard', 'sy'];

export function checkEventType(type: string): void {
  if (type.length > maxEventTypeLength) {
    throw new InvalidNameError(
      `event type "${type}" is longer than ${maxEventTypeLength} characters`,
    );
  }
  if (!eventTypePattern.test(type)) {
    throw new InvalidNameError(
      `event type "${type}" must be dotted lower-case snake_case words, a noun then what happened to it, e.g. order.shipped or invoice_line.paid`,
    );
  }
  const namespace = type.split('.')[0] ?? '';
  if (reservedEventNamespaces.includes(namespace)) {
    throw new ReservedNameError(
      `event type "${type}": the namespace "${namespace}" is reserved (${reservedEventNamespaces.join(', ')})`,
    );
  }
}

export function checkSubscriberName(name: string): void {
  if (name.length > maxSubscriberNameLength) {
    throw new InvalidNameError(
      `subscriber "${name}" is longer than ${maxSubscriberNameLength} characters`,
    );
  }
  if (name.startsWith('worker-')) {
    throw new InvalidNameError(
      `subscriber "${name}": give the name without "worker-" (the app is named worker-<name>)`,
    );
  }
  if (!subscriberPattern.test(name)) {
    throw new InvalidNameError(
      `subscriber "${name}" must be kebab-case: lower-case letters and digits in words joined by "-", starting with a letter, e.g. fraud-check`,
    );
  }
  if (reservedSubscriberNames.includes(name)) {
    throw new ReservedNameError(
      `subscriber "${name}" is reserved (${reservedSubscriberNames.join(', ')})`,
    );
  }
}

/** `invoice_line` -> `invoiceLine`, `fraud-check` -> `fraudCheck`. */
export function camelCase(words: string): string {
  return words.replace(/[-_.]([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

/** `fraud-check` -> `FraudCheck`. */
export function pascalCase(words: string): string {
  const camel = camelCase(words);
  return camel.charAt(0).toUpperCase() + camel.slice(1);
}

/** The id field the generated schema keys on: `invoice_line.paid` -> `invoiceLineId`. */
export function businessKeyFieldOf(type: string): string {
  return `${camelCase(type.split('.')[0] ?? 'entity')}Id`;
}
