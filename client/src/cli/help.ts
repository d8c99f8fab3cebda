import type { Command } from './command.js';
import { renderTable } from './format.js';
import { GLOBAL_OPTIONS, OPTIONS, type OptionName } from './option-table.js';

export function mainHelp(commands: readonly Command[]): string {
  return [
    'meshpress: publish, pin and inspect versioned service-mesh configuration.',
    '',
    'Usage: meshpress <command> [arguments] [options]',
    '',
    'Commands:',
    columns(commands.map((c) => [c.name, c.summary])),
    '',
    'Global options:',
    optionLines(GLOBAL_OPTIONS),
    '',
    'Exit status: 0 ok, 1 other failure, 2 usage error, 3 topic or version not found, 4 invalid input,',
    '5 service unavailable. Run `meshpress <command> --help` for the options of a command.',
  ].join('\n');
}

export function groupHelp(group: string, commands: readonly Command[]): string {
  const members = commands.filter((c) => c.name.startsWith(`${group} `));
  return [
    `Usage: meshpress ${group} <${members.map((c) => c.name.slice(group.length + 1)).join('|')}> [arguments] [options]`,
    '',
    columns(members.map((c) => [c.name, c.summary])),
  ].join('\n');
}

export function commandHelp(command: Command): string {
  return [
    `Usage: meshpress ${command.name}${command.synopsis ? ` ${command.synopsis}` : ''} [options]`,
    '',
    `${capitalise(command.summary)}.`,
    ...(command.details ? ['', command.details] : []),
    ...(command.options.length > 0 ? ['', 'Options:', optionLines(command.options)] : []),
    '',
    'Global options:',
    optionLines(GLOBAL_OPTIONS),
  ].join('\n');
}

function optionLines(names: readonly OptionName[]): string {
  const rows = names.map((name) => {
    const spec = OPTIONS[name];
    const short = 'short' in spec ? `-${spec.short}, ` : '';
    const value = 'value' in spec ? ` <${spec.value}>` : '';
    const repeat = 'multiple' in spec && spec.multiple ? ' ...' : '';
    return [`${short}--${name}${value}${repeat}`, spec.help];
  });
  return columns(rows);
}

function columns(rows: readonly (readonly string[])[]): string {
  return indent(renderTable([{ header: '' }, { header: '' }], rows, { header: false }));
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
