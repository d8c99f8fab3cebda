/**
 * Route-decision benchmark: builds a 1,000-route mesh.routes.v1 snapshot and measures, on this one
 * thread, how many requests per second it routes (route() + pickTarget()), then what a new snapshot
 * costs to parse, validate, compile and swap in.
 *
 *   node --import tsx bench/route-decisions.ts        (BENCH_QUICK=1 for a short smoke run)
 *
 * Writes bench/results/route-decisions.json and prints a `BENCH_RESULT {...}` line for bench/run.ts.
 * Two throughput figures are given: per wall-clock second, and per second of CPU time this process got.
 * On a shared machine the scheduler can take the core away mid-run; the CPU-time figure is then the
 * better estimate of what one dedicated core does, and the wall-clock figure is the floor.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import {
  compileRoutes,
  type HeaderLookup,
  NO_HEADERS,
  pickTarget,
  type RouteDecision,
  type RoutesDocumentInput,
  type RoutesSnapshot,
  validateDocument,
} from '../client/src/mesh/index.js';

const QUICK = process.env.BENCH_QUICK === '1';
const GOAL_PER_SECOND = 1_000_000;
/** Each figure is the median of several windows, so one scheduler hiccup on a shared machine does not set it. */
const WINDOWS = QUICK ? 3 : 7;
const WINDOW_MS = QUICK ? 100 : 600;
const WARMUP_MS = QUICK ? 100 : 1_000;
const COMPILE_RUNS = QUICK ? 5 : 40;
const SERVICES = 100;
const NODES = 50;
const REQUESTS = 16_384;

/** Seeded PRNG for the request mix, so every run routes the same requests. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Ten routes for each of 100 services (1,000 in all), shaped like a real router: catch-all prefix,
 * versioned API prefixes, a canary split, an exact health path, method-restricted and header-routed
 * routes, a user-agent regex, and an explicit-priority override.
 */
function buildDocument(): RoutesDocumentInput {
  const node = (i: number) => `node-${i % NODES}`;
  const routes: RoutesDocumentInput['router']['routes'] = [];
  for (let s = 0; s < SERVICES; s++) {
    const base = `/svc-${s}`;
    const one = (n: number) => ({ weightedTargets: [{ virtualNode: node(s + n), weight: 1 }] });
    routes.push(
      { name: `s${s}-all`, match: { prefix: `${base}/` }, action: one(0) },
      { name: `s${s}-v1`, match: { prefix: `${base}/api/v1/` }, action: one(1), timeoutMs: 3000 },
      {
        name: `s${s}-v2-canary`,
        match: { prefix: `${base}/api/v2/` },
        action: {
          weightedTargets: [
            { virtualNode: node(s + 2), weight: 90 },
            { virtualNode: node(s + 3), weight: 9 },
            { virtualNode: node(s + 4), weight: 1 },
          ],
        },
        retryPolicy: { maxRetries: 2, perTryTimeoutMs: 1000, retryOn: ['5xx', 'reset'] },
      },
      { name: `s${s}-health`, match: { path: `${base}/healthz` }, action: one(5) },
      {
        name: `s${s}-orders-read`,
        match: { prefix: `${base}/api/v1/orders`, methods: ['GET', 'HEAD'] },
        action: one(6),
      },
      {
        name: `s${s}-orders-write`,
        match: { prefix: `${base}/api/v1/orders`, methods: ['POST', 'PUT', 'PATCH'] },
        action: one(7),
        retryPolicy: { maxRetries: 1, perTryTimeoutMs: 2000, retryOn: ['connect-failure'] },
      },
      {
        name: `s${s}-beta`,
        match: { prefix: `${base}/api/v1/`, headers: [{ name: 'x-beta', exact: 'yes' }] },
        action: one(8),
      },
      {
        name: `s${s}-mobile`,
        match: { prefix: `${base}/api/`, headers: [{ name: 'user-agent', regex: 'Mobile.*Safari' }] },
        action: one(9),
      },
      { name: `s${s}-item-exact`, match: { path: `${base}/api/v1/items/featured` }, action: one(10) },
      {
        name: `s${s}-maintenance`,
        priority: 100,
        match: { prefix: `${base}/admin/`, headers: [{ name: 'x-maintenance', present: true }] },
        action: one(11),
      },
    );
  }
  return {
    kind: 'mesh.routes.v1',
    virtualService: 'bench.mesh.local',
    router: { routes },
    virtualNodes: Array.from({ length: NODES }, (_, i) => ({
      name: `node-${i}`,
      endpoints: [
        { host: `10.0.${i}.1`, port: 8080 },
        { host: `10.0.${i}.2`, port: 8080 },
      ],
      outlierDetection: { consecutiveErrors: 5 },
    })),
    rateLimit: { requestsPerSecond: 10_000 },
  };
}

interface Request {
  readonly method: string;
  readonly path: string;
  readonly headers: HeaderLookup;
}

/** A fixed mix: mostly hits across every route shape, some misses, realistic header sets. */
function buildRequests(): Request[] {
  const rnd = seeded(7);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
  const desktop = {
    'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36',
  };
  const mobile = { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile/15E148 Safari/604.1' };
  const headerSets: Record<string, string>[] = [
    desktop,
    desktop,
    desktop,
    mobile,
    { ...desktop, 'x-beta': 'yes' },
    { ...desktop, 'x-maintenance': '1' },
  ];
  const lookups = headerSets.map(
    (h): HeaderLookup =>
      (name) =>
        h[name],
  );
  const requests: Request[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const base = `/svc-${Math.floor(rnd() * SERVICES)}`;
    const id = Math.floor(rnd() * 100_000);
    const path = pick([
      `${base}/api/v1/orders/${id}`,
      `${base}/api/v1/orders`,
      `${base}/api/v1/items/${id}`,
      `${base}/api/v1/items/featured`,
      `${base}/api/v2/catalog/${id}`,
      `${base}/healthz`,
      `${base}/static/app.js`,
      `${base}/admin/reindex`,
      `/unrouted/${id}`,
    ]);
    const method = pick(['GET', 'GET', 'GET', 'GET', 'POST', 'PUT', 'HEAD', 'DELETE']);
    requests.push({ method, path, headers: rnd() < 0.05 ? NO_HEADERS : pick(lookups) });
  }
  return requests;
}

interface Throughput {
  readonly decisions: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly perWallSecond: number;
  readonly perCpuSecond: number;
  readonly nsPerDecision: number;
  readonly gcEvents: number;
  readonly hitRatio: number;
}

/** Consumes results so the loop cannot be optimised away; masked so it stays a small integer (no boxing). */
let sink = 0;

/** Runs the request mix in full passes until `ms` has elapsed. */
async function measureWindow(
  snapshot: RoutesSnapshot,
  requests: readonly Request[],
  ms: number,
  withPick: boolean,
): Promise<Throughput> {
  let gcEvents = 0;
  const observer = new PerformanceObserver((list) => {
    gcEvents += list.getEntries().length;
  });
  observer.observe({ entryTypes: ['gc'] });
  const n = requests.length;
  let decisions = 0;
  let hits = 0;
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < n; i++) {
      const r = requests[i]!;
      const decision: RouteDecision | undefined = snapshot.route(r.method, r.path, r.headers);
      if (decision !== undefined) {
        hits++;
        sink = (sink + (withPick ? pickTarget(decision, Math.random()).weight : decision.rank)) & 0xffff;
      }
    }
    decisions += n;
    elapsed = performance.now() - started;
  } while (elapsed < ms);
  const cpu = process.cpuUsage(cpuStart);
  // GC entries reach the observer asynchronously: let them arrive before counting.
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  observer.disconnect();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    decisions,
    wallMs: Math.round(elapsed),
    cpuMs: Math.round(cpuMs),
    perWallSecond: Math.round(decisions / (elapsed / 1000)),
    perCpuSecond: Math.round(decisions / (cpuMs / 1000)),
    nsPerDecision: Math.round(((cpuMs * 1e6) / decisions) * 10) / 10,
    gcEvents,
    hitRatio: Math.round((hits / decisions) * 1000) / 1000,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

interface Measured extends Throughput {
  readonly windows: number;
  readonly bestPerCpuSecond: number;
  readonly worstPerCpuSecond: number;
}

/** The median window (by CPU-time rate), with totals over all windows for GCs and decisions. */
async function measure(
  snapshot: RoutesSnapshot,
  requests: readonly Request[],
  withPick: boolean,
): Promise<Measured> {
  const runs: Throughput[] = [];
  for (let i = 0; i < WINDOWS; i++) runs.push(await measureWindow(snapshot, requests, WINDOW_MS, withPick));
  const byCpu = [...runs].sort((a, b) => a.perCpuSecond - b.perCpuSecond);
  const mid = byCpu[Math.floor(byCpu.length / 2)]!;
  return {
    ...mid,
    perWallSecond: median(runs.map((r) => r.perWallSecond)),
    decisions: runs.reduce((sum, r) => sum + r.decisions, 0),
    gcEvents: runs.reduce((sum, r) => sum + r.gcEvents, 0),
    windows: WINDOWS,
    bestPerCpuSecond: byCpu[byCpu.length - 1]!.perCpuSecond,
    worstPerCpuSecond: byCpu[0]!.perCpuSecond,
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** JSON bytes → parse → validate → compile → swap, the path a sidecar takes for each new version. */
function measureCompile(bytes: Buffer): Record<string, number> {
  const parse: number[] = [];
  const validate: number[] = [];
  const compile: number[] = [];
  const total: number[] = [];
  let current: RoutesSnapshot | undefined;
  for (let i = 0; i < COMPILE_RUNS; i++) {
    const t0 = performance.now();
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    const t1 = performance.now();
    const doc = validateDocument('mesh.routes.v1', value);
    const t2 = performance.now();
    const next = compileRoutes(doc);
    const t3 = performance.now();
    current = next;
    parse.push(t1 - t0);
    validate.push(t2 - t1);
    compile.push(t3 - t2);
    total.push(t3 - t0);
  }
  sink += current?.routes.length ?? 0;

  // The swap itself is one reference assignment; time a million of them to show its order of magnitude.
  const a = compileRoutes(validateDocument('mesh.routes.v1', JSON.parse(bytes.toString('utf8'))));
  const b = current!;
  let live: RoutesSnapshot = a;
  const swaps = 1_000_000;
  const s0 = performance.now();
  for (let i = 0; i < swaps; i++) live = (i & 1) === 0 ? b : a;
  const swapNs = ((performance.now() - s0) * 1e6) / swaps;
  sink += live.routes.length;

  return {
    runs: COMPILE_RUNS,
    documentBytes: bytes.length,
    parseMsMedian: round2(median(parse)),
    validateMsMedian: round2(median(validate)),
    compileMsMedian: round2(median(compile)),
    totalMsMedian: round2(median(total)),
    totalMsMax: round2(Math.max(...total)),
    swapNs: round2(swapNs),
  };
}

function cpuPressure(): number | null {
  try {
    const match = /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

const format = (n: number) => n.toLocaleString('en-US');

const doc = buildDocument();
const bytes = Buffer.from(JSON.stringify(doc));
const snapshot = compileRoutes(validateDocument('mesh.routes.v1', doc));
const requests = buildRequests();
const loadBefore = { load1: round2(loadavg()[0]!), cpuPressure10s: cpuPressure() };

process.stdout.write(
  `route-decisions${QUICK ? ' (quick: not comparable)' : ''}: ${snapshot.routes.length} routes, ${NODES} virtual nodes, ` +
    `${REQUESTS} distinct requests; machine load ${loadBefore.load1}, CPU pressure ${loadBefore.cpuPressure10s ?? 'n/a'}%\n`,
);

await measureWindow(snapshot, requests, WARMUP_MS, true);
const routeOnly = await measure(snapshot, requests, false);
const routeAndPick = await measure(snapshot, requests, true);
const compileCost = measureCompile(bytes);
const loadAfter = { load1: round2(loadavg()[0]!), cpuPressure10s: cpuPressure() };

process.stdout.write(
  `  route() only:          ${format(routeOnly.perWallSecond)}/s wall, ${format(routeOnly.perCpuSecond)}/s per CPU-second ` +
    `(${routeOnly.nsPerDecision} ns each, ${routeOnly.gcEvents} GCs in ${format(routeOnly.decisions)} decisions)\n` +
    `  route() + pickTarget(): ${format(routeAndPick.perWallSecond)}/s wall, ${format(routeAndPick.perCpuSecond)}/s per CPU-second ` +
    `(${routeAndPick.nsPerDecision} ns each, ${routeAndPick.gcEvents} GCs, hit ratio ${routeAndPick.hitRatio}; ` +
    `windows ${format(routeAndPick.worstPerCpuSecond)}..${format(routeAndPick.bestPerCpuSecond)}/s)\n` +
    `  new snapshot (${format(compileCost.documentBytes!)} bytes JSON): parse ${compileCost.parseMsMedian} ms + ` +
    `validate ${compileCost.validateMsMedian} ms + compile ${compileCost.compileMsMedian} ms = ${compileCost.totalMsMedian} ms median ` +
    `(max ${compileCost.totalMsMax} ms over ${compileCost.runs}); swap ${compileCost.swapNs} ns (one assignment)\n`,
);

const passes = routeAndPick.perCpuSecond > GOAL_PER_SECOND;
const rows = [
  {
    label: 'route decisions/s, 1,000-route snapshot, one core (route + pickTarget)',
    goal: `> ${format(GOAL_PER_SECOND)}/s`,
    measured: `${format(routeAndPick.perCpuSecond)}/s per CPU-second, median of ${WINDOWS} windows (${format(routeAndPick.perWallSecond)}/s wall clock)`,
    verdict: QUICK ? 'info' : passes ? 'pass' : 'fail',
  },
  {
    label: 'route() alone, same snapshot',
    goal: '',
    measured: `${format(routeOnly.perCpuSecond)}/s per CPU-second, ${routeOnly.gcEvents} GCs during ${format(routeOnly.decisions)} decisions`,
    verdict: 'info',
  },
  {
    label: 'new 1,000-route snapshot: parse + validate + compile, then swap',
    goal: '',
    measured: `${compileCost.totalMsMedian} ms median (validate ${compileCost.validateMsMedian}, compile ${compileCost.compileMsMedian}); swap ${compileCost.swapNs} ns`,
    verdict: 'info',
  },
] as const;

const details = {
  quick: QUICK,
  notes: [
    'per CPU-second = decisions / CPU time this process used (user + system, all threads); wall clock = decisions / elapsed time',
    'GC counts are young-generation collections observed during the measured windows; route() alone allocates nothing, ' +
      'while route() + pickTarget() can show a few: V8 boxes the Math.random() double passed to pickTarget when it does not inline the call',
  ],
  routes: snapshot.routes.length,
  virtualNodes: NODES,
  distinctRequests: REQUESTS,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  node: process.version,
  machineLoad: { before: loadBefore, after: loadAfter },
  goalPerSecond: GOAL_PER_SECOND,
  goalMet: passes,
  routeOnly,
  routeAndPick,
  compile: compileCost,
  sink: sink % 7,
};

mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('./results/route-decisions.json', import.meta.url),
  `${JSON.stringify({ name: 'route-decisions', measuredAt: new Date().toISOString(), rows, details }, null, 2)}\n`,
);
process.stdout.write(`BENCH_RESULT ${JSON.stringify({ rows, details })}\n`);
