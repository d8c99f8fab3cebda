import type { Clock } from '../core/clock.js';
import { IntegrityError, type MeshpressError, UnavailableError } from '../core/errors.js';
import type { VersionRecord } from '../core/model.js';
import { asTransportError } from '../core/wire-error.js';
import { timeoutSignal } from './abort.js';
import { payloadMatches, verifyPayload } from './integrity.js';
import { orderByRegion, type S3Downloader } from './s3-downloader.js';
import type { PollTransport } from './transport.js';

export interface DownloaderOptions {
  readonly transport: PollTransport;
  readonly s3: S3Downloader;
  /** The client's region: its S3 copy is tried first. */
  readonly region: string | undefined;
  readonly clock: Clock;
  /** Budget of each single attempt (one S3 copy, or the service). */
  readonly attemptTimeoutMs: number;
}

export interface Downloaded {
  readonly data: Uint8Array;
  /** Where the verified bytes came from: `inline`, `s3:<region>`, or `service`. */
  readonly source: string;
}

interface Source {
  readonly name: string;
  fetch(signal: AbortSignal): Promise<Uint8Array>;
}

/**
 * Gets a version's bytes and proves them: size and sha256 must match the record, whichever copy they came
 * from. Copies are tried in order (inline payload; S3, own region first; the service's data endpoint as
 * the last resort) and the first that verifies wins.
 *
 * Fails with IntegrityError only when every copy answered with wrong bytes (a corrupt version: rejected
 * until the target changes); with UnavailableError when at least one copy could not be reached (worth
 * trying again on the next poll).
 */
export class Downloader {
  readonly #options: DownloaderOptions;

  constructor(options: DownloaderOptions) {
    this.#options = options;
  }

  /**
   * The record's inline bytes when they verify, at once; undefined otherwise (no inline copy, or a bad
   * one: `download` then tries the other copies and reports what failed). The common case for
   * configuration, and after a publish every subscriber takes it at once: no promise, no abort scope.
   */
  verifiedInline(record: VersionRecord): Downloaded | undefined {
    const pointer = record.pointer;
    if (pointer.kind !== 'direct' || pointer.data.byteLength !== record.size) return undefined;
    if (!payloadMatches(record, pointer.data)) return undefined;
    return { data: pointer.data, source: 'inline' };
  }

  async download(record: VersionRecord, signal: AbortSignal): Promise<Downloaded> {
    const failures: MeshpressError[] = [];
    // Inline bytes (the common case for configuration) need no request, so no timeout or abort scope:
    // after a publish every subscriber takes this path at once.
    const pointer = record.pointer;
    if (pointer.kind === 'direct' && pointer.data.byteLength === record.size) {
      if (signal.aborted) throw signal.reason;
      try {
        verifyPayload(record, pointer.data, 'inline');
        return { data: pointer.data, source: 'inline' };
      } catch (error) {
        failures.push(asTransportError(error, 'download from inline'));
      }
    }
    for (const source of this.#remoteSources(record)) {
      if (signal.aborted) throw signal.reason;
      const scoped = timeoutSignal(signal, this.#options.clock, this.#options.attemptTimeoutMs, source.name);
      try {
        const data = await source.fetch(scoped.signal);
        verifyPayload(record, data, source.name);
        return { data, source: source.name };
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        failures.push(asTransportError(error, `download from ${source.name}`));
      } finally {
        scoped.dispose();
      }
    }
    const where = `${record.topic} v${record.version}`;
    if (failures.length > 0 && failures.every((f) => f instanceof IntegrityError)) {
      const first = failures[0] as IntegrityError;
      throw new IntegrityError(
        `every copy of ${where} has the wrong bytes: ${failures.map((f) => f.message).join('; ')}`,
        first.details,
      );
    }
    throw new UnavailableError(`cannot download ${where}: ${failures.map((f) => f.message).join('; ')}`, {
      cause: new AggregateError(failures),
    });
  }

  /** Copies to fetch after the inline one (listings omit inline payloads: those come from the service). */
  #remoteSources(record: VersionRecord): Source[] {
    const { transport, s3, region } = this.#options;
    const sources: Source[] = [];
    const pointer = record.pointer;
    if (pointer.kind === 's3') {
      for (const location of orderByRegion(pointer.locations, region))
        sources.push({ name: `s3:${location.region}`, fetch: (signal) => s3.get(location, signal) });
    }
    sources.push({
      name: 'service',
      fetch: (signal) => transport.fetchData(record.topic, record.version, signal),
    });
    return sources;
  }
}
