/** The command line itself is wrong (unknown command or flag, missing argument, bad flag value). */
export class UsageError extends Error {
  /** The command whose help to point at, e.g. `topics create`. */
  readonly command: string | undefined;
  /** One line per bad flag, when there are several. */
  readonly problems: readonly string[];

  constructor(message: string, command?: string, problems: readonly string[] = []) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
    this.problems = problems;
  }
}
