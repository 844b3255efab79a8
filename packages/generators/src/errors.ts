/**
 * Every way a generator run refuses or fails, each with a stable `code`. The
 * CLI prints `error <code>: <message>` and exits 1 (2 for usage errors); a
 * refusal always happens before anything is written, and a failure after
 * writing rolls every written file back (see applyChanges).
 */
export abstract class GeneratorError extends Error {
  abstract readonly code: string;
  /** Exit status of the CLI for this error. */
  readonly exitCode: number = 1;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The command line is not one the CLI understands. */
export class UsageError extends GeneratorError {
  readonly code = 'SY_ERR_GEN_USAGE';
  override readonly exitCode = 2;
}

/** An event type or subscriber name breaks the naming rules. */
export class InvalidNameError extends GeneratorError {
  readonly code = 'SY_ERR_GEN_NAME_INVALID';
}

/** The name is one Switchyard keeps for itself (queues, apps). */
export class ReservedNameError extends GeneratorError {
  readonly code = 'SY_ERR_GEN_NAME_RESERVED';
}

/** The name is in use, and not as this generator with these answers would write it. */
export class NameTakenError extends GeneratorError {
  readonly code = 'SY_ERR_GEN_NAME_TAKEN';
}

/** `--on` names an event type the catalogue does not have. */
export class UnknownEventTypeError extends GeneratorError {
  readonly code = 'SY_ERR_GEN_UNKNOWN_EVENT';
}

/** A file the generator edits no longer has the shape it knows how to edit. */
export class EditAnchorError extends GeneratorError {
  readonly code = 'SY_ERR_GEN_ANCHOR_MISSING';
}

/** A step after writing (schema snapshot, workspace link) failed; the tree was rolled back. */
export class GenerateStepError extends GeneratorError {
  readonly code = 'SY_ERR_GEN_STEP_FAILED';
}
