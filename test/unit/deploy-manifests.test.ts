import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { configFromEnv, type ServerConfig } from '@meshpress/server';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { freePort } from '../support/services/index.js';

/**
 * What users of deploy/ rely on: every file parses, every environment the manifests give the server is one
 * it reads and accepts for the intended role, probes and Services reach the right pods and ports, and the
 * migration runs alone before instances that do not migrate. No Docker or Kubernetes here: the files are
 * checked against the server's own configuration parser.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const K8S = join(DEPLOY, 'kubernetes');
const SECRET_TEMPLATE = 'secret.example.yaml';
const PLACEHOLDER = 'CHANGE_ME';
/** Read by the AWS SDK's default credential chain and by Node itself, not by configFromEnv. */
const OTHER_ALLOWED_VARIABLES = new Set(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'NODE_OPTIONS']);

type Labels = Record<string, string>;

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
}

interface Probe {
  httpGet?: { path: string; port: string | number };
  periodSeconds?: number;
  failureThreshold?: number;
}

interface Container {
  name: string;
  image: string;
  command?: string[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  env?: EnvVar[];
  ports?: { name: string; containerPort: number }[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
  volumeMounts?: { name: string; mountPath: string }[];
}

interface PodSpec {
  containers: Container[];
  volumes?: { name: string; emptyDir?: object }[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  terminationGracePeriodSeconds?: number;
  enableServiceLinks?: boolean;
  affinity?: {
    podAntiAffinity?: {
      preferredDuringSchedulingIgnoredDuringExecution?: {
        podAffinityTerm: { labelSelector: { matchLabels: Labels } };
      }[];
    };
  };
}

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Labels };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  /** Each kind has its own spec; the tests read the fields they check. */
  spec?: any;
}

interface Workload {
  readonly object: K8sObject;
  readonly component: string;
  readonly pod: PodSpec;
  readonly podLabels: Labels;
  readonly container: Container;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(entry.name) ? [path] : [];
  });
}

/** Every document of a YAML file, failing on any parse error or warning. */
function readYaml(path: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'), { merge: true });
  return docs.map((doc) => {
    expect(doc.errors, relative(ROOT, path)).toEqual([]);
    expect(doc.warnings, relative(ROOT, path)).toEqual([]);
    return doc.toJS();
  });
}

function k8sFile(name: string): K8sObject[] {
  return readYaml(join(K8S, name)) as K8sObject[];
}

const kustomization = k8sFile('kustomization.yaml')[0] as unknown as {
  resources: string[];
  images: { name: string }[];
};
const applied = kustomization.resources.flatMap(k8sFile);
const secretTemplate = k8sFile(SECRET_TEMPLATE)[0]!;
const ofKind = (kind: string) => applied.filter((o) => o.kind === kind);
const named = (kind: string, name: string) => {
  const found = applied.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the kustomization`);
  return found;
};

function workload(object: K8sObject): Workload {
  const template = object.spec.template as { metadata: { labels: Labels }; spec: PodSpec };
  expect(template.spec.containers, object.metadata.name).toHaveLength(1);
  return {
    object,
    component: object.metadata.labels?.['app.kubernetes.io/component'] ?? '',
    pod: template.spec,
    podLabels: template.metadata.labels,
    container: template.spec.containers[0]!,
  };
}

const deployments = ofKind('Deployment').map(workload);
const jobs = ofKind('Job').map(workload);
const deployment = (component: string) => {
  const found = deployments.find((d) => d.component === component);
  if (!found) throw new Error(`no Deployment for the ${component} role`);
  return found;
};

/** The environment a container starts with: envFrom in order, then env; pod fields get sample values. */
function containerEnv(container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, named('ConfigMap', from.configMapRef.name).data);
    else if (from.secretRef) {
      // The Secret is created by the user from the template, with the same keys.
      expect(from.secretRef.name).toBe(secretTemplate.metadata.name);
      Object.assign(env, secretTemplate.stringData);
    } else throw new Error(`unexpected envFrom ${JSON.stringify(from)}`);
  }
  for (const variable of container.env ?? []) {
    const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (fieldPath === 'metadata.name') env[variable.name] = `${container.name}-7d9f8b6c5-x2k4p`;
    else throw new Error(`unexpected source of ${variable.name}: ${JSON.stringify(variable.valueFrom)}`);
  }
  return env;
}

/** Exactly the variables configFromEnv reads, observed rather than copied from config.ts. */
function variablesTheServerReads(): Set<string> {
  const read = new Set<string>();
  const recorder = new Proxy({} as NodeJS.ProcessEnv, {
    get(_target, key) {
      if (typeof key === 'string') read.add(key);
      return undefined;
    },
  });
  configFromEnv(recorder);
  return read;
}
const SERVER_VARIABLES = variablesTheServerReads();

/** Names the server would silently ignore (a typo, a removed option). */
function unknownVariables(env: Record<string, string>): string[] {
  return Object.keys(env).filter((name) => !SERVER_VARIABLES.has(name) && !OTHER_ALLOWED_VARIABLES.has(name));
}

const selects = (selector: Labels, labels: Labels) =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

const probesOf = (c: Container) =>
  [c.startupProbe, c.readinessProbe, c.livenessProbe].filter((p): p is Probe => p !== undefined);

function preStopSeconds(c: Container): number {
  const command = c.lifecycle?.preStop?.exec?.command;
  if (!command) return 0;
  expect(command[0]).toBe('sleep');
  return Number(command[1]);
}

describe('deploy/ files', () => {
  it('every YAML file parses without errors or warnings', () => {
    const files = yamlFiles(DEPLOY);
    expect(files.map((f) => relative(DEPLOY, f)).sort()).toEqual(
      expect.arrayContaining(['compose.yaml', 'kubernetes/kustomization.yaml']),
    );
    for (const file of files) expect(readYaml(file).length, relative(ROOT, file)).toBeGreaterThan(0);
  });

  it('the configuration probe sees the variables README documents', () => {
    for (const name of ['MESHPRESS_ROLES', 'MESHPRESS_STORE', 'MESHPRESS_REDIS_URL', 'MESHPRESS_S3_BUCKETS'])
      expect(SERVER_VARIABLES).toContain(name);
  });
});

describe('Kubernetes manifests', () => {
  it('the kustomization applies every manifest but the Secret template, and no namespace is fixed', () => {
    const manifests = readdirSync(K8S).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(
      manifests.filter((f) => f !== SECRET_TEMPLATE).sort(),
    );
    for (const object of [...applied, secretTemplate]) {
      expect(object.apiVersion, object.metadata.name).toBeTruthy();
      expect(object.metadata.namespace, object.metadata.name).toBeUndefined();
    }
    expect(applied.some((o) => o.kind === 'Secret')).toBe(false);
  });

  it('the Secret template holds only clearly marked placeholders', () => {
    expect(secretTemplate.kind).toBe('Secret');
    const values = Object.entries(secretTemplate.stringData ?? {});
    expect(values.length).toBeGreaterThan(0);
    for (const [key, value] of values) expect(value, key).toContain(PLACEHOLDER);
  });

  it('has one Deployment per role, with enough replicas to lose one pod', () => {
    expect(deployments.map((d) => d.component).sort()).toEqual(['consume', 'publish', 'tasks']);
    expect(deployment('publish').object.spec.replicas).toBe(2);
    expect(deployment('consume').object.spec.replicas).toBe(3);
    // Leadership makes one tasks pod active; the other is the standby that takes the lease over.
    expect(deployment('tasks').object.spec.replicas).toBe(2);
  });

  it("each Deployment's environment is one the server reads and accepts, for its role only", () => {
    for (const { component, container } of deployments) {
      const env = containerEnv(container);
      expect(unknownVariables(env), component).toEqual([]);
      const config = configFromEnv(env);
      expect(config.roles, component).toEqual([component]);
      expect(config).toMatchObject({
        host: '0.0.0.0',
        store: 'cassandra',
        cassandraMigrate: false,
        blobStore: 's3',
        redisUrl: expect.stringMatching(/^rediss?:\/\//),
      });
      expect(config.instanceId, `${component} names each pod`).toBeDefined();
    }
  });

  it('the migration Job runs the migration script alone, on the configuration the Deployments use', () => {
    expect(jobs).toHaveLength(1);
    const job = jobs[0]!;
    expect(job.object.spec).toMatchObject({ parallelism: 1, completions: 1 });
    expect(job.container.command).toEqual(expect.arrayContaining(['node', 'deploy/migrate.mjs']));
    expect(existsSync(join(ROOT, 'deploy/migrate.mjs'))).toBe(true);
    const env = containerEnv(job.container);
    expect(unknownVariables(env)).toEqual([]);
    const config = configFromEnv(env);
    const serving = configFromEnv(containerEnv(deployment('publish').container));
    const cassandraOf = (c: ServerConfig) =>
      Object.fromEntries(
        Object.entries(c).filter(([key]) => key.startsWith('cassandra') && key !== 'cassandraMigrate'),
      );
    expect(cassandraOf(config)).toEqual(cassandraOf(serving));
    expect(config.store).toBe('cassandra');
  });

  it('containers expose the configured ports, and every probe asks /healthz on the REST port', () => {
    for (const { component, container } of deployments) {
      const config = configFromEnv(containerEnv(container));
      const ports = Object.fromEntries((container.ports ?? []).map((p) => [p.name, p.containerPort]));
      expect(ports, component).toEqual({ http: config.httpPort, grpc: config.grpcPort });
      const probes = probesOf(container);
      expect(probes.length, component).toBe(3);
      for (const probe of probes) {
        expect(probe.httpGet?.path, component).toBe('/healthz');
        const port = probe.httpGet?.port;
        expect(typeof port === 'string' ? ports[port] : port, component).toBe(config.httpPort);
      }
    }
  });

  it('pods drain before they are killed, and a draining pod (503) is not restarted by liveness', () => {
    for (const { component, container, pod } of deployments) {
      const config = configFromEnv(containerEnv(container));
      const graceMs = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
      expect(graceMs, component).toBeGreaterThan(preStopSeconds(container) * 1000 + config.shutdownGraceMs);
      const liveness = container.livenessProbe!;
      expect(
        (liveness.periodSeconds ?? 10) * (liveness.failureThreshold ?? 3) * 1000,
        component,
      ).toBeGreaterThan(graceMs);
    }
  });

  it('pods run as non-root on a read-only root filesystem with a writable /tmp, without service links', () => {
    for (const { object, pod, container } of [...deployments, ...jobs]) {
      const name = object.metadata.name;
      expect(pod.securityContext?.runAsNonRoot, name).toBe(true);
      expect(pod.securityContext?.runAsUser, name).toBeGreaterThan(0);
      expect(container.securityContext, name).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
      const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
      expect(tmp, name).toBeDefined();
      expect(pod.volumes?.find((v) => v.name === tmp?.name)?.emptyDir, name).toBeDefined();
      // Service links would add MESHPRESS_<SERVICE>_* variables to what the server reads.
      expect(pod.enableServiceLinks, name).toBe(false);
    }
  });

  it('Deployments select their own pods, and spread them across nodes', () => {
    for (const { object, podLabels, pod, component } of deployments) {
      expect(selects(object.spec.selector.matchLabels, podLabels), component).toBe(true);
      const others = deployments.filter((d) => d.object !== object);
      for (const other of others)
        expect(selects(object.spec.selector.matchLabels, other.podLabels), component).toBe(false);
      const terms = pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
      expect(terms.length, component).toBeGreaterThan(0);
      for (const term of terms)
        expect(selects(term.podAffinityTerm.labelSelector.matchLabels, podLabels), component).toBe(true);
    }
  });

  it('every Deployment has a PodDisruptionBudget that selects exactly its pods and leaves some running', () => {
    const budgets = ofKind('PodDisruptionBudget');
    for (const { component, podLabels, object } of deployments) {
      const covering = budgets.filter((b) => selects(b.spec.selector.matchLabels, podLabels));
      expect(covering, component).toHaveLength(1);
      expect(covering[0]!.spec.maxUnavailable, component).toBeLessThan(object.spec.replicas);
    }
    for (const budget of budgets) {
      const pods = [...deployments, ...jobs].filter((w) =>
        selects(budget.spec.selector.matchLabels, w.podLabels),
      );
      expect(pods, budget.metadata.name).toHaveLength(1);
    }
  });

  it('Services route proxies to consume pods and pipelines to publish pods, on named container ports', () => {
    const services = ofKind('Service');
    const routed = (name: string) => {
      const selector = named('Service', name).spec.selector as Labels;
      return [...deployments, ...jobs].filter((w) => selects(selector, w.podLabels)).map((w) => w.component);
    };
    expect(routed('meshpress-consume')).toEqual(['consume']);
    expect(routed('meshpress-publish')).toEqual(['publish']);
    for (const service of services) {
      const target = deployments.find((d) => selects(service.spec.selector, d.podLabels))!;
      const containerPorts = new Set((target.container.ports ?? []).map((p) => p.name));
      const ports = service.spec.ports as { name: string; port: number; targetPort: string }[];
      expect(ports.map((p) => p.name).sort(), service.metadata.name).toEqual(['grpc', 'http']);
      for (const port of ports) expect(containerPorts, service.metadata.name).toContain(port.targetPort);
    }
  });

  it('no Service name could shadow a server variable through service links', () => {
    for (const service of ofKind('Service')) {
      const prefix = `${service.metadata.name.toUpperCase().replace(/-/g, '_')}_`;
      expect(
        [...SERVER_VARIABLES].filter((v) => v.startsWith(prefix)),
        service.metadata.name,
      ).toEqual([]);
    }
  });

  it('every container runs the image the kustomization rewrites', () => {
    const images = new Set(kustomization.images.map((i) => i.name));
    for (const { object, container } of [...deployments, ...jobs])
      expect(images, object.metadata.name).toContain(container.image);
  });
});

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  restart?: string;
  stop_grace_period?: string;
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
}

const compose = parse(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const services = compose.services;
const servers = ['publisher', 'consumer'] as const;
const composeConfig = (name: string) => configFromEnv(services[name]!.environment ?? {});

describe('compose file', () => {
  it('the two instances get distributed configurations split by role', () => {
    expect(composeConfig('publisher').roles).toEqual(['publish', 'tasks']);
    expect(composeConfig('consumer').roles).toEqual(['consume']);
    for (const name of servers) {
      expect(unknownVariables(services[name]!.environment ?? {}), name).toEqual([]);
      expect(composeConfig(name), name).toMatchObject({
        store: 'cassandra',
        cassandraMigrate: false,
        blobStore: 's3',
        s3ForcePathStyle: true,
        redisUrl: expect.stringMatching(/^redis:\/\//),
      });
    }
    expect(composeConfig('publisher').instanceId).not.toBe(composeConfig('consumer').instanceId);
  });

  it('the configuration names hosts that are compose services', () => {
    for (const name of servers) {
      const config = composeConfig(name);
      const hosts = [
        ...(config.cassandraContactPoints ?? []).map((p) => p.split(':')[0]!),
        new URL(config.redisUrl!).hostname,
        new URL(config.s3Endpoint!).hostname,
      ];
      for (const host of hosts) expect(Object.keys(services), name).toContain(host);
    }
  });

  it('the one-shot setup creates exactly the buckets the instances write to', () => {
    const setup = (services.buckets?.command ?? []).join(' ');
    const created = [...setup.matchAll(/local\/([a-z0-9.-]+)/g)].map((m) => m[1]).sort();
    for (const name of servers) {
      const buckets = (composeConfig(name).s3Buckets ?? []).map((b) => b.bucket).sort();
      expect(buckets, name).toEqual(created);
      expect(new Set(composeConfig(name).s3Buckets?.map((b) => b.region)).size, name).toBe(2);
    }
  });

  it('the schema is migrated once, by the migration script, before either instance starts', () => {
    const migrate = services.migrate!;
    expect(migrate.command).toEqual(expect.arrayContaining(['node', 'deploy/migrate.mjs']));
    expect(migrate.restart).toBe('no');
    expect(configFromEnv(migrate.environment ?? {}).store).toBe('cassandra');
    for (const name of servers)
      expect(services[name]!.depends_on?.migrate?.condition, name).toBe('service_completed_successfully');
  });

  it('every dependency can report the condition waited for', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [target, { condition }] of Object.entries(service.depends_on ?? {})) {
        const dependency = services[target];
        expect(dependency, `${name} -> ${target}`).toBeDefined();
        if (condition === 'service_healthy')
          expect(dependency!.healthcheck?.test, `${name} -> ${target}`).toBeDefined();
        else
          expect([condition, dependency!.restart], `${name} -> ${target}`).toEqual([
            'service_completed_successfully',
            'no',
          ]);
      }
    }
  });

  it('instances are health-checked on /healthz and stopped after their shutdown grace', () => {
    for (const name of servers) {
      const service = services[name]!;
      const config = composeConfig(name);
      expect(service.healthcheck?.test?.join(' '), name).toContain(`:${config.httpPort}/healthz`);
      const stop = /^(\d+)s$/.exec(service.stop_grace_period ?? '');
      expect(stop, name).not.toBeNull();
      expect(Number(stop![1]) * 1000, name).toBeGreaterThan(config.shutdownGraceMs);
      expect(service.build?.dockerfile, name).toBe('deploy/Dockerfile');
    }
  });
});

describe('container image', () => {
  const dockerfile = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
  const instructions = (keyword: string) =>
    dockerfile
      .split('\n')
      .filter((line) => line.startsWith(`${keyword} `))
      .map((line) => line.slice(keyword.length + 1).trim());

  it('runs the server as the start script runs it (entry point and Node flags), as a non-root user, listening beyond loopback', () => {
    const start = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }
    ).scripts.start;
    const command = start
      .slice(start.lastIndexOf('&&') + 2)
      .trim()
      .split(/\s+/);
    expect(command.at(-1)).toBe('server/dist/main.js');
    expect(instructions('CMD').map((args) => JSON.parse(args) as unknown)).toEqual([command]);
    const defaults = configFromEnv({});
    expect(instructions('EXPOSE')).toEqual([`${defaults.httpPort} ${defaults.grpcPort}`]);
    expect(dockerfile).toMatch(/MESHPRESS_HOST=0\.0\.0\.0/);
    const user = instructions('USER').at(-1) ?? '';
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(instructions('STOPSIGNAL')).toEqual(['SIGTERM']);
  });

  it('copies from the build context only files that exist, and the ignore file keeps them', () => {
    const sources = instructions('COPY')
      .filter((args) => !args.startsWith('--from'))
      .flatMap((args) => args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(existsSync(join(ROOT, source)), source).toBe(true);
    const ignore = readFileSync(join(DEPLOY, 'Dockerfile.dockerignore'), 'utf8').split('\n');
    expect(ignore).toContain('!deploy/migrate.mjs');
    for (const source of sources) expect(ignore, source).not.toContain(source.replace(/\/$/, ''));
  });
});

describe('migration script', () => {
  const run = promisify(execFile);
  const script = async (env: Record<string, string>) => {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('MESHPRESS_')),
    );
    try {
      const { stdout, stderr } = await run(
        process.execPath,
        ['--conditions=meshpress-source', '--import', 'tsx', 'deploy/migrate.mjs'],
        { cwd: ROOT, env: { ...clean, ...env } },
      );
      return { code: 0, output: stdout + stderr };
    } catch (err) {
      const failure = err as { code: number; stdout: string; stderr: string };
      return { code: failure.code, output: failure.stdout + failure.stderr };
    }
  };

  it('refuses, with exit code 2, a configuration it cannot migrate', async () => {
    const [embedded, incomplete] = await Promise.all([
      script({ MESHPRESS_STORE: 'sqlite' }),
      script({ MESHPRESS_STORE: 'cassandra', MESHPRESS_CASSANDRA_CONTACT_POINTS: '127.0.0.1' }),
    ]);
    expect(embedded.code).toBe(2);
    expect(embedded.output).toContain('MESHPRESS_STORE is not cassandra');
    expect(incomplete.code).toBe(2);
    expect(incomplete.output).toContain('MESHPRESS_CASSANDRA_LOCAL_DC');
  });

  it('needs only the Cassandra settings: the S3 and Redis ones instances need are not asked of it', async () => {
    const port = await freePort();
    const result = await script({
      MESHPRESS_STORE: 'cassandra',
      MESHPRESS_CASSANDRA_CONTACT_POINTS: `127.0.0.1:${port}`,
      MESHPRESS_CASSANDRA_LOCAL_DC: 'dc1',
    });
    // Past the configuration: it tried to connect (nothing listens there) and failed with 1, not 2.
    expect(result.output).not.toContain('MESHPRESS_REDIS_URL');
    expect(result.code).toBe(1);
  });
});
