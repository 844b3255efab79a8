/**
 * The queues the board shows: for every subscriber in the routing table, its
 * queue, its dead-letter queue and its schedules queue, in routing-table
 * order, with the names and descriptions people read on the board.
 */
import {
  deadLetterQueueNameOf,
  queueNameOf,
  subscriberNames,
  subscribers,
  type SubscriberName,
} from '@switchyard/events';
import { scheduleQueueNameOf } from '@switchyard/runtime';

export type DashboardQueueKind = 'subscriber' | 'dead-letter' | 'schedules';

export interface DashboardQueue {
  /** BullMQ queue name (without the key prefix); also its name in Bull Board URLs. */
  name: string;
  subscriber: SubscriberName;
  kind: DashboardQueueKind;
  displayName: string;
  description: string;
}

export function dashboardQueues(): DashboardQueue[] {
  return subscriberNames.flatMap((subscriber): DashboardQueue[] => {
    const definition = subscribers[subscriber];
    const events = definition.events.join(', ');
    return [
      {
        name: queueNameOf(subscriber),
        subscriber,
        kind: 'subscriber',
        displayName: subscriber,
        description: `${definition.description} Receives ${events}.`,
      },
      {
        name: deadLetterQueueNameOf(subscriber),
        subscriber,
        kind: 'dead-letter',
        displayName: `${subscriber} · dead letters`,
        description: `Jobs of ${subscriber} that failed for good, with every attempt's error. Paused on purpose; replay with \`sy dlq replay ${subscriber}\`.`,
      },
      {
        name: scheduleQueueNameOf(subscriber),
        subscriber,
        kind: 'schedules',
        displayName: `${subscriber} · schedules`,
        description: `Scheduled runs of ${subscriber} (one job scheduler per schedule).`,
      },
    ];
  });
}
