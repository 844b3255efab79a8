/**
 * The container and Kubernetes configuration, checked without a container
 * engine: docker-compose.yml through `docker-compose config` (Debian's
 * docker-compose), infra/k8s through `kubectl kustomize`, the Dockerfile and
 * redis.conf by reading. Each worker app in apps/ must appear everywhere, so
 * a new subscriber cannot be left out of a deployment.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const workerApps = readdirSync(`${repoRoot}apps`)
  .filter((name) => name.startsWith('worker-'))
  .sort();

/** Environment compose needs; values only have to pass its `:?` checks. */
const composeEnv = {
  API_KEYS: 'compose-check-key-0123456789',
  REDIS_PASSWORD: 'compose-check-redis-password',
  DASHBOARD_PASSWORD: 'compose-check-dashboard',
};

function run(command: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(command, args, {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    timeout: 60_000,
  });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(
      `${command} is not installed; .ci/run installs it (Debian: apt-get install -y ${
        command === 'kubectl' ? 'kubernetes-client' : command
      })`,
    );
  }
  return result;
}

/** Seconds of a compose duration such as `30s` or `1m30s`. */
function seconds(duration: string): number {
  const match = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
  if (!match || duration === '') throw new Error(`not a duration: ${duration}`);
  return Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0);
}

interface ComposeService {
  command?: string[];
  environment?: Record<string, string>;
  deploy?: { replicas?: number };
  stop_grace_period?: string;
  init?: boolean;
  healthcheck?: { test: string[] };
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  build?: { args?: Record<string, string> };
}

describe('docker-compose.yml', () => {
  const rendered = run('docker-compose', ['--profile', 'monitoring', 'config'], composeEnv);
  const services = (): Record<string, ComposeService> => {
    expect(rendered.status, rendered.stderr).toBe(0);
    return (parseYaml(rendered.stdout) as { services: Record<string, ComposeService> }).services;
  };

  it('is valid and runs every app, Redis, and the monitoring profile', () => {
    expect(Object.keys(services()).sort()).toEqual(
      ['dashboard', 'grafana', 'producer', 'prometheus', 'redis', 'sandbox', ...workerApps].sort(),
    );
    expect(services().prometheus!.profiles).toEqual(['monitoring']);
    expect(services().grafana!.profiles).toEqual(['monitoring']);
  });

  it('runs Redis from infra/redis/redis.conf with a password, durable and non-evicting', () => {
    const redis = services().redis!;
    expect(redis.command).toContain('/usr/local/etc/redis/redis.conf');
    expect(redis.command).toContain('--requirepass');
    expect(redis.healthcheck?.test.join(' ')).toContain('ping');
    const conf = readFileSync(`${repoRoot}infra/redis/redis.conf`, 'utf8');
    for (const line of ['appendonly yes', 'appendfsync everysec', 'maxmemory-policy noeviction']) {
      expect(conf.split('\n')).toContain(line);
    }
    expect(services().producer!.environment!.REDIS_URL).toBe(
      `redis://:${composeEnv.REDIS_PASSWORD}@redis:6379`,
    );
  });

  it('gives each worker replicas, an init, and a stop grace period above its drain deadline', () => {
    for (const name of workerApps) {
      const worker = services()[name]!;
      expect(worker.deploy?.replicas, name).toBeGreaterThanOrEqual(2);
      expect(worker.init, name).toBe(true);
      expect(worker.depends_on?.redis?.condition, name).toBe('service_healthy');
      const drainMs = Number(worker.environment!.SHUTDOWN_TIMEOUT_MS);
      expect(drainMs, name).toBeGreaterThan(0);
      expect(seconds(worker.stop_grace_period!) * 1000, name).toBeGreaterThan(drainMs);
      expect(worker.build?.args?.APP, name).toBe(name);
    }
  });

  it('refuses to start without the secrets, naming the variable', () => {
    const missing = run('docker-compose', ['config', '-q'], {
      ...composeEnv,
      API_KEYS: '',
    });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('API_KEYS');
  });
});

describe('infra/docker/Dockerfile', () => {
  const dockerfile = readFileSync(`${repoRoot}infra/docker/Dockerfile`, 'utf8');
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

  it('deploys production dependencies only, runs as non-root under an init, with a health check', () => {
    expect(dockerfile).toMatch(/pnpm --filter "@switchyard\/\$\{APP\}" deploy --prod/);
    expect(runtimeStage).toMatch(/^USER node$/m);
    expect(runtimeStage).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
    expect(runtimeStage).toMatch(/^CMD \["node", "dist\/main\.js"\]$/m);
    expect(runtimeStage).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
  });
});

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

describe('infra/k8s (kustomize)', () => {
  const rendered = run('kubectl', ['kustomize', 'infra/k8s/overlays/example']);
  const objects = (): K8sObject[] => {
    expect(rendered.status, rendered.stderr).toBe(0);
    return parseAllDocuments(rendered.stdout).map((doc) => doc.toJS() as K8sObject);
  };
  const find = (kind: string, name: string) =>
    objects().find((object) => object.kind === kind && object.metadata.name === name);

  it('renders', () => {
    expect(objects().length).toBeGreaterThan(10);
    expect(objects().every((object) => object.metadata.namespace !== 'default')).toBe(true);
  });

  it('gives each worker a Deployment with probes, resources and a grace period above the drain deadline', () => {
    const config = objects().find((object) => object.kind === 'ConfigMap')!;
    const drainMs = Number(config.data!.SHUTDOWN_TIMEOUT_MS);
    expect(drainMs).toBeGreaterThan(0);
    for (const name of workerApps) {
      const deployment = find('Deployment', name);
      expect(deployment, name).toBeDefined();
      const pod = (deployment!.spec as { template: { spec: PodSpec } }).template.spec;
      expect(pod.terminationGracePeriodSeconds * 1000, name).toBeGreaterThan(drainMs);
      expect(pod.securityContext.runAsNonRoot, name).toBe(true);
      const container = pod.containers[0]!;
      expect(container.livenessProbe.httpGet.path, name).toBe('/healthz');
      expect(container.readinessProbe.httpGet.path, name).toBe('/readyz');
      expect(container.resources.requests.cpu, name).toBeDefined();
      expect(container.resources.limits.memory, name).toBeDefined();
      expect(find('PodDisruptionBudget', name), name).toBeDefined();
    }
  });

  it('autoscales each worker with KEDA on its queue backlog, not the wait list alone', () => {
    for (const name of workerApps) {
      const scaled = find('ScaledObject', name);
      expect(scaled, name).toBeDefined();
      const spec = scaled!.spec as {
        scaleTargetRef: { name: string };
        minReplicaCount: number;
        maxReplicaCount: number;
        triggers: { type: string; metadata: { query: string } }[];
      };
      expect(spec.scaleTargetRef.name).toBe(name);
      expect(spec.minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(spec.maxReplicaCount).toBeGreaterThan(spec.minReplicaCount);
      const queue = name.slice('worker-'.length);
      expect(spec.triggers[0]!.type).toBe('prometheus');
      expect(spec.triggers[0]!.metadata.query).toContain(`sy_queue_backlog{queue="${queue}"}`);
    }
  });

  it('runs the producer and dashboard with probes, and keeps Redis external', () => {
    for (const name of ['producer', 'dashboard']) {
      expect(find('Deployment', name), name).toBeDefined();
      expect(find('Service', name), name).toBeDefined();
    }
    expect(objects().some((object) => /redis/i.test(object.metadata.name))).toBe(false);
  });
});

interface PodSpec {
  terminationGracePeriodSeconds: number;
  securityContext: { runAsNonRoot: boolean };
  containers: {
    livenessProbe: { httpGet: { path: string } };
    readinessProbe: { httpGet: { path: string } };
    resources: { requests: { cpu?: string }; limits: { memory?: string } };
  }[];
}
