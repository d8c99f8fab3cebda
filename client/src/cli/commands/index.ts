import type { Command } from '../command.js';
import { pin, pinHistory, unpin } from './pins.js';
import { publish } from './publish.js';
import { resolveCommand } from './resolve.js';
import { scopesAdd } from './scopes.js';
import { topicsCreate, topicsList, topicsShow } from './topics.js';
import { versionsDownload, versionsList, versionsShow } from './versions.js';
import { watch } from './watch.js';

/** Every command, in the order `meshpress --help` lists them. */
export const COMMANDS: readonly Command[] = [
  topicsCreate,
  topicsList,
  topicsShow,
  publish,
  versionsList,
  versionsShow,
  versionsDownload,
  scopesAdd,
  pin,
  unpin,
  pinHistory,
  resolveCommand,
  watch,
];

/** Names that group subcommands (`topics create`, `versions list`, …). */
export const GROUPS: readonly string[] = [
  ...new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!)),
];
