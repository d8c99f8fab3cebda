import { parseArgs } from 'node:util';
import { MeshpressError, ValidationError } from '../core/errors.js';
import { MeshpressAdmin } from '../publisher/admin.js';
import type { Command, CommandContext } from './command.js';
import { COMMANDS, GROUPS } from './commands/index.js';
import { adminOptionsFrom } from './config.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { printable } from './format.js';
import { commandHelp, groupHelp, mainHelp } from './help.js';
import { type CliIo, isBrokenPipe, writeFully } from './io.js';
import { type FlagValues, GLOBAL_OPTIONS, OPTIONS, type OptionName } from './option-table.js';
import { UsageError } from './usage-error.js';

/** Runs one `meshpress` invocation; resolves to its exit status. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let json = argv.includes('--json');
  let command: Command | undefined;
  let admin: MeshpressAdmin | undefined;
  try {
    const { values, positionals } = parseCommandLine(argv);
    json = values.json === true;
    const resolved = resolveCommand(positionals, values.help === true);
    if ('help' in resolved) {
      await writeFully(resolved.toStderr ? io.stderr : io.stdout, `${resolved.help}\n`);
      return resolved.toStderr ? EXIT.usage : EXIT.ok;
    }
    command = resolved.command;
    if (values.help === true) {
      await writeFully(io.stdout, `${commandHelp(command)}\n`);
      return EXIT.ok;
    }
    checkOptions(command, values);
    const args = positionals.slice(resolved.consumed);
    checkArity(command, args);
    const name = command.name;
    const ctx: CommandContext = {
      args,
      flags: values,
      io,
      json,
      admin: () => {
        admin ??= buildAdmin(values, io, name);
        return admin;
      },
      print: (text) => writeFully(io.stdout, `${text}\n`),
      printJson: (value) => writeFully(io.stdout, `${JSON.stringify(value, null, 2)}\n`),
    };
    return (await command.run(ctx)) ?? EXIT.ok;
  } catch (error) {
    if (isBrokenPipe(error)) return EXIT.ok;
    await reportError(error, io, json, command?.name);
    return exitCodeFor(error);
  } finally {
    await admin?.close();
  }
}

function parseCommandLine(argv: readonly string[]): { values: FlagValues; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    return { values: values as FlagValues, positionals };
  } catch (error) {
    // node:util's messages are precise but long ("… place it at the end of the command after '--' …").
    const message = error instanceof Error ? error.message.split('. ')[0]! : String(error);
    throw new UsageError(message.endsWith('.') ? message.slice(0, -1) : message);
  }
}

type Resolved = { command: Command; consumed: number } | { help: string; toStderr: boolean };

function resolveCommand(positionals: readonly string[], wantsHelp: boolean): Resolved {
  const [first, second] = positionals;
  if (first === undefined || first === 'help')
    return { help: mainHelp(COMMANDS), toStderr: !wantsHelp && first !== 'help' };
  const single = COMMANDS.find((c) => c.name === first);
  if (single) return { command: single, consumed: 1 };
  if (!GROUPS.includes(first)) throw new UsageError(`unknown command '${first}'`);
  if (second === undefined) return { help: groupHelp(first, COMMANDS), toStderr: !wantsHelp };
  const member = COMMANDS.find((c) => c.name === `${first} ${second}`);
  if (!member) throw new UsageError(`unknown command '${first} ${second}'`, first);
  return { command: member, consumed: 2 };
}

function checkOptions(command: Command, values: FlagValues): void {
  const allowed = new Set<OptionName>([...GLOBAL_OPTIONS, ...command.options]);
  const stray = (Object.keys(values) as OptionName[]).filter((name) => !allowed.has(name));
  if (stray.length > 0)
    throw new UsageError(
      `${stray.map((s) => `--${s}`).join(', ')} ${stray.length === 1 ? 'does' : 'do'} not apply to '${command.name}'`,
      command.name,
    );
}

function checkArity(command: Command, args: readonly string[]): void {
  if (args.length < command.minArgs)
    throw new UsageError(`'${command.name}' needs ${command.synopsis || 'no arguments'}`, command.name);
  if (args.length > command.maxArgs)
    throw new UsageError(
      `unexpected argument '${args[command.maxArgs]}' for '${command.name}'`,
      command.name,
    );
}

function buildAdmin(values: FlagValues, io: CliIo, command: string): MeshpressAdmin {
  const options = adminOptionsFrom(values, io.env, command);
  try {
    return new MeshpressAdmin({
      ...options,
      ...(io.clock ? { clock: io.clock } : {}),
      ...(io.random ? { random: io.random } : {}),
    });
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new UsageError(
      'invalid configuration',
      command,
      error.issues.map((i) => `${i.path}: ${i.message}`),
    );
  }
}

async function reportError(
  error: unknown,
  io: CliIo,
  json: boolean,
  command: string | undefined,
): Promise<void> {
  if (json) {
    const body =
      error instanceof MeshpressError
        ? error.toJSON()
        : error instanceof UsageError
          ? {
              code: 'USAGE',
              message: error.message,
              ...(error.problems.length ? { details: { problems: error.problems } } : {}),
            }
          : { code: 'FAILED', message: error instanceof Error ? error.message : String(error) };
    await writeFully(io.stderr, `${JSON.stringify({ error: body })}\n`);
    return;
  }
  const lines: string[] = [];
  if (error instanceof UsageError) {
    lines.push(`meshpress: ${error.message}`, ...error.problems.map((p) => `  ${p}`));
    lines.push(
      `Run 'meshpress ${error.command ?? command ?? ''}${error.command || command ? ' ' : ''}--help' for usage.`,
    );
  } else if (error instanceof MeshpressError) {
    lines.push(`meshpress: ${error.code}: ${error.message}`);
    if (error instanceof ValidationError) lines.push(...error.issues.map((i) => `  ${i.path}: ${i.message}`));
  } else {
    lines.push(`meshpress: ${error instanceof Error ? error.message : String(error)}`);
    if (io.env.MESHPRESS_DEBUG && error instanceof Error && error.stack) lines.push(error.stack);
  }
  // Messages may quote what a server (or a proxy in front of it) answered: escaped like any output.
  await writeFully(io.stderr, `${lines.map(printable).join('\n')}\n`);
}
