import { describe, expect, it } from 'vitest';
import { renderFields, renderTable } from '../../../client/src/cli/format.js';

describe('human output', () => {
  it('shows control characters in what others wrote as \\uXXXX, one row per line', () => {
    // A pin reason that would retitle the terminal, erase the line and start a fake row of its own.
    const reason = 'bad rollout\u001b]0;owned\u0007\u001b[2K\nregion=us  pinned to v1';
    const table = renderTable(
      [{ header: 'SCOPE' }, { header: 'REASON' }],
      [
        ['*', reason],
        ['app=a', 'fine'],
      ],
    );
    expect(table.split('\n')).toEqual([
      'SCOPE  REASON',
      '*      bad rollout\\u001b]0;owned\\u0007\\u001b[2K\\u000aregion=us  pinned to v1',
      'app=a  fine',
    ]);
    expect(renderFields([['author', 'ops\u009b31m']])).toBe('author  ops\\u009b31m');
  });

  it('escapes line separators and bidirectional overrides, which could make one line read as another', () => {
    expect(renderFields([['reason', 'ok\u2028\u202eevil\u2066']])).toBe('reason  ok\\u2028\\u202eevil\\u2066');
  });

  it('leaves printable text alone, non-ASCII included', () => {
    expect(renderFields([['reason', 'rollback: café → v2 ✓']])).toBe('reason  rollback: café → v2 ✓');
  });
});
