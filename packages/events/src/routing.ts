/**
 * The routing table: which subscribers receive which event types. Each
 * subscriber owns one BullMQ queue (named after it) and one dead-letter
 * queue. Pure data; the producer fans out along it and workers consume it.
 */
import type { EventType } from './catalogue.js';

export interface SubscriberDefinition {
  /** One line for humans: dashboard and docs. */
  description: string;
  /** The event types this subscriber's queue receives. */
  events: readonly EventType[];
}

export const subscribers = {
  notifications: {
    description: 'Sends the welcome e-mail.',
    events: ['user.signed_up'],
  },
  provisioning: {
    description: 'Creates the default workspace.',
    events: ['user.signed_up'],
  },
  billing: {
    description: 'Alerts the billing team about failed payments.',
    events: ['payment.failed'],
  },
} as const satisfies Record<string, SubscriberDefinition>;

export type SubscriberName = keyof typeof subscribers;

export const subscriberNames = Object.keys(subscribers) as SubscriberName[];

export function isSubscriberName(name: string): name is SubscriberName {
  return Object.hasOwn(subscribers, name);
}

const routes = new Map<string, SubscriberName[]>();
for (const name of subscriberNames) {
  for (const type of subscribers[name].events) {
    routes.set(type, [...(routes.get(type) ?? []), name]);
  }
}

/** The subscribers of `type`, in routing-table order; empty when none. */
export function subscribersOf(type: string): readonly SubscriberName[] {
  return routes.get(type) ?? [];
}

/** The BullMQ queue a subscriber consumes. */
export function queueNameOf(subscriber: SubscriberName): string {
  return subscriber;
}

/** The BullMQ queue that holds a subscriber's dead letters; never consumed by workers. */
export function deadLetterQueueNameOf(subscriber: SubscriberName): string {
  return `${subscriber}.dlq`;
}
