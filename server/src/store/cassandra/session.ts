import type { Client, types } from 'cassandra-driver';

/** Rows fetched per round trip when reading a whole partition or a range. */
export const PAGE_SIZE = 500;

export type Params = readonly unknown[];

export interface ExecOptions {
  /**
   * Safe to run twice (plain inserts of fixed values, reads): the driver may then retry it on another
   * node after a timeout. Lightweight transactions whose retry could be misread are not.
   */
  readonly idempotent: boolean;
}

/**
 * The only way the store talks to Cassandra: every statement prepared (parsed once per node, values bound
 * as typed parameters), at the configured consistency, lightweight transactions at the configured serial
 * consistency. Throws the driver's errors as they are; the store maps them at its boundary.
 */
export class CqlSession {
  constructor(
    readonly client: Client,
    private readonly consistency: types.consistencies,
    private readonly serialConsistency: types.consistencies,
  ) {}

  execute(query: string, params: Params, options: ExecOptions): Promise<types.ResultSet> {
    return this.client.execute(query, params as unknown[], {
      prepare: true,
      consistency: this.consistency,
      serialConsistency: this.serialConsistency,
      isIdempotent: options.idempotent,
    });
  }

  /**
   * Every row of a read, page by page (fetchSize and the paging state), so no response is unbounded.
   * `serial`: at the serial consistency, each page seeing every lightweight transaction accepted so far.
   */
  async all(query: string, params: Params, options: { serial?: boolean } = {}): Promise<types.Row[]> {
    const rows: types.Row[] = [];
    let pageState: string | undefined;
    do {
      const result = await this.client.execute(query, params as unknown[], {
        prepare: true,
        consistency: options.serial ? this.serialConsistency : this.consistency,
        isIdempotent: true,
        fetchSize: PAGE_SIZE,
        ...(pageState === undefined ? {} : { pageState }),
      });
      rows.push(...result.rows);
      pageState = result.pageState ?? undefined;
    } while (pageState !== undefined);
    return rows;
  }

  /**
   * Every row of a read, one page at a time: for scans too large to hold at once (a migration's
   * backfill). `onPage` runs before the next page is fetched.
   */
  async eachPage(query: string, params: Params, onPage: (rows: types.Row[]) => Promise<void>): Promise<void> {
    let pageState: string | undefined;
    do {
      const result = await this.client.execute(query, params as unknown[], {
        prepare: true,
        consistency: this.consistency,
        isIdempotent: true,
        fetchSize: PAGE_SIZE,
        ...(pageState === undefined ? {} : { pageState }),
      });
      await onPage(result.rows);
      pageState = result.pageState ?? undefined;
    } while (pageState !== undefined);
  }

  /**
   * Writes that must land together, all on one partition key (possibly in several tables): Cassandra
   * applies them as one mutation, atomically, with no batch log.
   */
  async batch(statements: readonly { query: string; params: Params }[], options: ExecOptions): Promise<void> {
    await this.client.batch(
      statements.map((s) => ({ query: s.query, params: s.params as unknown[] })),
      {
        prepare: true,
        logged: false,
        consistency: this.consistency,
        isIdempotent: options.idempotent,
      },
    );
  }

  /**
   * A lightweight-transaction batch: statements on one partition, applied together only if every
   * condition holds. The result says whether it applied and, when not, the conditioned columns as they
   * stand.
   */
  conditionalBatch(statements: readonly { query: string; params: Params }[]): Promise<types.ResultSet> {
    return this.client.batch(
      statements.map((s) => ({ query: s.query, params: s.params as unknown[] })),
      {
        prepare: true,
        consistency: this.consistency,
        serialConsistency: this.serialConsistency,
        // A resend of a transaction that did apply would be misread as one that did not.
        isIdempotent: false,
      },
    );
  }

  /** Schema changes: not prepared; the driver waits for the cluster's schema agreement after each. */
  async ddl(query: string): Promise<void> {
    await this.client.execute(query, [], { consistency: this.consistency, isIdempotent: true });
  }
}
