/** Plain-text rendering for humans: aligned tables, sizes, times. No colours, so output pipes cleanly. */

export interface Column {
  readonly header: string;
  /** Right-align (numbers, sizes). */
  readonly right?: boolean;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Control characters shown as `\uXXXX`: reasons, authors and metadata come from whoever wrote them, and
 * printed raw they could move the cursor, rewrite lines already shown or retitle the operator's terminal;
 * line separators and bidirectional overrides could make one line read as another.
 */
export function printable(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Columns separated by two spaces, each as wide as its widest cell; the last column is not padded. */
export function renderTable(
  columns: readonly Column[],
  unsafeRows: readonly (readonly string[])[],
  options: { header?: boolean } = {},
): string {
  const rows = unsafeRows.map((r) => r.map(printable));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        const last = i === columns.length - 1;
        if (c.right) return cell.padStart(widths[i]!);
        return last ? cell : cell.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  const body = rows.map(line);
  return (options.header === false ? body : [line(columns.map((c) => c.header)), ...body]).join('\n');
}

/** `key  value` lines with the keys aligned. Entries with an undefined value are left out. */
export function renderFields(fields: readonly (readonly [string, string | undefined])[]): string {
  const shown = fields
    .filter((f): f is readonly [string, string] => f[1] !== undefined)
    .map(([k, v]) => [k, printable(v)] as const);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** `2026-11-25 15:52:02Z`: sortable, second precision, always UTC. */
export function formatTime(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

export function shortSha(sha256: string): string {
  return sha256.slice(0, 12);
}

export function formatRetention(retention: {
  maxVersions?: number | undefined;
  maxAgeDays?: number | undefined;
}): string {
  const parts = [
    retention.maxVersions === undefined ? undefined : `${retention.maxVersions} versions`,
    retention.maxAgeDays === undefined ? undefined : `${retention.maxAgeDays} days`,
  ].filter((p) => p !== undefined);
  return parts.length === 0 ? 'forever' : parts.join(', ');
}

export function formatMetadata(metadata: Readonly<Record<string, string>>): string {
  const entries = Object.entries(metadata);
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${v}`).join(' ');
}
