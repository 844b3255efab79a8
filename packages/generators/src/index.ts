export { generateEvent, type EventAnswers, type GenerateResult } from './generate-event.js';
export { generateSubscriber, type SubscriberAnswers } from './generate-subscriber.js';
export { runGeneratorCli, usage, type CliIo } from './run-generator-cli.js';
export {
  checkEventType,
  checkSubscriberName,
  reservedEventNamespaces,
  reservedSubscriberNames,
} from './names.js';
export {
  EditAnchorError,
  GenerateStepError,
  GeneratorError,
  InvalidNameError,
  NameTakenError,
  ReservedNameError,
  UnknownEventTypeError,
  UsageError,
} from './errors.js';
