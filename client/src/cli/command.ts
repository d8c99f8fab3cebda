import type { MeshpressAdmin } from '../publisher/admin.js';
import type { CliIo } from './io.js';
import type { FlagValues, OptionName } from './option-table.js';

export interface CommandContext {
  /** Positional arguments after the command's name. */
  readonly args: readonly string[];
  readonly flags: FlagValues;
  readonly io: CliIo;
  /** `--json`: print machine-readable output. */
  readonly json: boolean;
  /** The publisher API configured from flags and environment; built on first use, closed by the runner. */
  admin(): MeshpressAdmin;
  /** Prints a line (or block) of text on stdout. */
  print(text: string): Promise<void>;
  /** Prints a value as indented JSON on stdout. */
  printJson(value: unknown): Promise<void>;
}

export interface Command {
  /** Full name, e.g. `topics create`. */
  readonly name: string;
  readonly summary: string;
  /** Positional arguments as shown in help, e.g. `<topic> [file|-]`. */
  readonly synopsis: string;
  readonly minArgs: number;
  readonly maxArgs: number;
  /** Flags accepted besides the global ones. */
  readonly options: readonly OptionName[];
  /** Extra help paragraphs (examples, notes). */
  readonly details?: string;
  /** Resolves to the exit status (0 when undefined). */
  run(ctx: CommandContext): Promise<number | undefined>;
}
