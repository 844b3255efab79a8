import { isSubscriberName, subscriberNames, type SubscriberName } from '@switchyard/events';
import { UsageError } from './errors.js';

/** The subscriber named on the command line, or a UsageError listing the known ones. */
export function subscriberArg(name: string): SubscriberName {
  if (!isSubscriberName(name)) {
    throw new UsageError(
      `unknown subscriber ${JSON.stringify(name)} (known: ${subscriberNames.join(', ')})`,
    );
  }
  return name;
}
