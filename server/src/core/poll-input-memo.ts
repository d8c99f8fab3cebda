import { type ParsedPollInput, parsePollInput, repeatingPollInput } from './poll-input.js';

/** Enough for the nodes one instance serves; at about 1 KiB an entry, a full memo holds ~10 MiB. */
export const POLL_INPUT_MEMO_ENTRIES = 10_000;
/** Longer bodies (hundreds of topics) are rare and are parsed every time. */
export const POLL_INPUT_MEMO_MAX_TEXT = 4096;

/**
 * Poll bodies already parsed and validated, by their exact text.
 *
 * A node polling at an interval sends the same body again and again until one of its topics changes
 * (same identity, same current versions), so most polls an instance receives repeat one it has seen.
 * Finding the text costs one hash of a few hundred bytes; parsing the JSON and validating it cost several
 * times that, about a tenth of a poll. Entries are deep-frozen because every poll with that text shares
 * them, and marked `repeats` so the service may keep what it derives from them; a body that fails to
 * parse or validate is not kept (it throws as usual). When full, the memo starts over: simpler than an
 * LRU, and a working set that fits refills it within one poll interval.
 *
 * Long-polls (`waitMs` > 0) are parsed but not kept. Their body comes back only when a wait of a minute
 * or so ends without a change, while after a publish a whole fleet sends new ones at once: keeping those
 * gained nothing, flushed the interval pollers' entries, and left ten thousand objects per publish for
 * the young-generation collector to copy while it was answering the fleet.
 */
export class PollInputMemo {
  readonly #entries = new Map<string, ParsedPollInput>();

  /** `parseJson` turns the text into a value or throws; it runs only for text not seen before. */
  parse(text: string, parseJson: (text: string) => unknown): ParsedPollInput {
    const known = this.#entries.get(text);
    if (known !== undefined) return known;
    const input = parsePollInput(parseJson(text));
    if (text.length > POLL_INPUT_MEMO_MAX_TEXT || input.waitMs > 0) return input;
    if (this.#entries.size >= POLL_INPUT_MEMO_ENTRIES) this.#entries.clear();
    const kept = repeatingPollInput(input);
    this.#entries.set(text, kept);
    return kept;
  }

  get size(): number {
    return this.#entries.size;
  }
}
