/**
 * The edits of shared deployment and docs files for a new worker app:
 * docker-compose.yml, infra/k8s (base manifest, kustomization, example
 * overlay's images), infra/monitoring scrape configs and the README's
 * "What runs" table.
 *
 * Each edit is an "ensure": it finds the app already there (unchanged text,
 * nothing to do), or adds it at a place found by the file's structure (the
 * block of the last worker-* entry), never by line numbers. The result is
 * formatted by Prettier afterwards and, for YAML, parsed again to check that
 * the entry is where the tools will look for it. An entry that is there but
 * differs is reported as a conflict, never overwritten.
 */
import { parse as parseYaml } from 'yaml';
import { EditAnchorError } from './errors.js';

/** Health port base of each worker app under `pnpm start` (apps/stack: 3100 + 100 * name-order index). */
export function healthPortBases(workerApps: readonly string[]): Map<string, number> {
  return new Map([...workerApps].sort().map((app, index) => [app, 3100 + 100 * index]));
}

export type Ensure =
  { text: string; conflict?: undefined } | { text?: undefined; conflict: string };

const lines = (text: string) => text.split('\n');
const squash = (text: string) => text.replace(/\s+/g, '');

/** The lines of the block that starts at `start` and ends before the next line indented <= `indent`. */
function blockEnd(all: string[], start: number, indent: number): number {
  let end = start + 1;
  while (end < all.length) {
    const line = all[end]!;
    if (line.trim() !== '' && line.length - line.trimStart().length <= indent) break;
    end += 1;
  }
  // Blank lines between blocks belong to neither.
  while (end > start + 1 && all[end - 1]!.trim() === '') end -= 1;
  return end;
}

export function composeService(app: string): string {
  return `  ${app}:
    <<: *worker
    build:
      {
        context: .,
        dockerfile: infra/docker/Dockerfile,
        args: { APP: ${app}, HEALTH_PORT: '3100' },
      }`;
}

export function ensureComposeService(text: string, app: string): Ensure {
  const all = lines(text);
  const services = all.findIndex((line) => line === 'services:');
  if (services < 0) throw new EditAnchorError('docker-compose.yml has no top-level "services:"');
  const servicesEnd = blockEnd(all, services, 0);
  const keys: { name: string; at: number }[] = [];
  for (let i = services + 1; i < servicesEnd; i += 1) {
    const match = /^ {2}([A-Za-z0-9_.-]+):\s*$/.exec(all[i]!);
    if (match) keys.push({ name: match[1]!, at: i });
  }
  const block = composeService(app);
  const found = keys.find((key) => key.name === app);
  if (found) {
    const current = all.slice(found.at, blockEnd(all, found.at, 2)).join('\n');
    return squash(current) === squash(block)
      ? { text }
      : { conflict: `docker-compose.yml already has a service ${app}` };
  }
  const workers = keys.filter((key) => key.name.startsWith('worker-'));
  const last = workers[workers.length - 1];
  if (last === undefined) {
    throw new EditAnchorError(
      'docker-compose.yml has no worker-* service to add the new one after',
    );
  }
  const end = blockEnd(all, last.at, 2);
  const out = [...all.slice(0, end), '', block, ...all.slice(end)].join('\n');
  const parsed = parseYaml(out, { merge: true }) as { services?: Record<string, unknown> };
  if (parsed.services?.[app] === undefined) {
    throw new EditAnchorError(
      `docker-compose.yml: the new service ${app} did not land under services`,
    );
  }
  return { text: out };
}

export function ensureKustomizeResource(text: string, app: string, file: string): Ensure {
  const all = lines(text);
  const resource = `${app}.yaml`;
  const resources = all.findIndex((line) => line === 'resources:');
  if (resources < 0) throw new EditAnchorError(`${file} has no top-level "resources:"`);
  const end = blockEnd(all, resources, 0);
  const items = all
    .slice(resources + 1, end)
    .map((line, i) => ({ line: line.trim(), at: resources + 1 + i }))
    .filter((item) => item.line.startsWith('- '));
  if (items.some((item) => item.line === `- ${resource}`)) return { text };
  const workers = items.filter((item) => item.line.startsWith('- worker-'));
  const after = (workers[workers.length - 1] ?? items[items.length - 1])?.at ?? resources;
  const out = [...all.slice(0, after + 1), `  - ${resource}`, ...all.slice(after + 1)].join('\n');
  const parsed = parseYaml(out) as { resources?: unknown[] };
  if (!parsed.resources?.includes(resource)) {
    throw new EditAnchorError(`${file}: ${resource} did not land in resources`);
  }
  return { text: out };
}

/** The example overlay's `images:` entry, so the new worker's image is retagged like the others. */
export function ensureOverlayImage(text: string, app: string, file: string): Ensure {
  const parsed = parseYaml(text) as { images?: { name?: string }[] };
  if (parsed.images === undefined) return { text };
  if (parsed.images.some((image) => image.name === `switchyard/${app}`)) return { text };
  const all = lines(text);
  const images = all.findIndex((line) => line === 'images:');
  if (images < 0) throw new EditAnchorError(`${file}: "images:" is not a top-level block`);
  const end = blockEnd(all, images, 0);
  const entry = `  - { name: switchyard/${app}, newName: registry.example.com/switchyard/${app}, newTag: '0.1.0' }`;
  const out = [...all.slice(0, end), entry, ...all.slice(end)].join('\n');
  const check = parseYaml(out) as { images?: { name?: string }[] };
  if (!check.images?.some((image) => image.name === `switchyard/${app}`)) {
    throw new EditAnchorError(`${file}: the image of ${app} did not land in images`);
  }
  return { text: out };
}

/**
 * infra/monitoring/prometheus.yml (the `pnpm start` stack): the `workers`
 * job's static targets, rewritten for every worker app, because a new app
 * shifts the ports of the apps after it in name order. Two replicas each
 * (WORKER_REPLICAS' default). A file without such a job is left alone.
 */
export function renderPrometheusWorkers(text: string, workerApps: readonly string[]): Ensure {
  const all = lines(text);
  const job = all.findIndex((line) => /^\s*- job_name: workers\s*$/.test(line));
  if (job < 0) return { text };
  const configs = all.findIndex((line, i) => i > job && /^\s*static_configs:\s*$/.test(line));
  if (configs < 0) return { text };
  let end = configs + 1;
  while (end < all.length && /^\s+(- targets:|labels:)/.test(all[end]!)) end += 1;
  if (end === configs + 1) return { text };
  const indent = /^(\s*)/.exec(all[configs + 1]!)?.[1] ?? '      ';
  const rendered = [...healthPortBases(workerApps)].flatMap(([app, base]) => [
    `${indent}- targets: ['127.0.0.1:${base}', '127.0.0.1:${base + 1}']`,
    `${indent}  labels: { app: ${app} }`,
  ]);
  return { text: [...all.slice(0, configs + 1), ...rendered, ...all.slice(end)].join('\n') };
}

/** infra/monitoring/prometheus.compose.yml: the service names the `workers` job resolves. */
export function ensurePrometheusComposeName(text: string, app: string): Ensure {
  const all = lines(text);
  const at = all.findIndex((line) => /names:\s*\[[^\]]*worker-[^\]]*\]/.test(line));
  if (at < 0) return { text };
  const line = all[at]!;
  const names = /names:\s*\[([^\]]*)\]/
    .exec(line)![1]!
    .split(',')
    .map((name) => name.trim());
  if (names.includes(app)) return { text };
  all[at] = line.replace(/names:\s*\[[^\]]*\]/, `names: [${[...names, app].join(', ')}]`);
  return { text: all.join('\n') };
}

const readmeRow = /^\| \[(worker-[a-z0-9-]+)\]\(apps\/\1\/README\.md\)\s*\|[^|]*\|(.*)\|\s*$/;

/**
 * The README's "What runs" table: one row per worker app with its health
 * ports, rewritten in name order (a new app shifts the ports of those after
 * it); every row keeps its own "what it does".
 */
export function renderReadmeWorkers(
  text: string,
  workerApps: readonly string[],
  newApp: { app: string; does: string },
): Ensure {
  const all = lines(text);
  const rows = all.flatMap((line, at) => {
    const match = readmeRow.exec(line);
    return match ? [{ app: match[1]!, does: match[2]!.trim(), at }] : [];
  });
  if (rows.length === 0) {
    throw new EditAnchorError('README.md has no worker rows in its "What runs" table');
  }
  const does = new Map(rows.map((row) => [row.app, row.does]));
  if (!does.has(newApp.app)) does.set(newApp.app, newApp.does);
  const rendered = [...healthPortBases(workerApps)].map(
    ([app, base]) =>
      `| [${app}](apps/${app}/README.md) | ${base}, ${base + 1}, … (health) | ${does.get(app) ?? ''} |`,
  );
  const first = rows[0]!.at;
  const rowLines = new Set(rows.map((row) => row.at));
  const out = all.flatMap((line, at) => (at === first ? rendered : rowLines.has(at) ? [] : [line]));
  return { text: out.join('\n') };
}

export function k8sManifest(app: string, queue: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${app}
  labels: { app.kubernetes.io/name: ${app} }
spec:
  # KEDA owns the replica count (ScaledObject below); this is the start.
  replicas: 2
  selector:
    matchLabels: { app.kubernetes.io/name: ${app} }
  template:
    metadata:
      labels: { app.kubernetes.io/name: ${app} }
      annotations:
        prometheus.io/scrape: 'true'
        prometheus.io/port: '3100'
    spec:
      # Above SHUTDOWN_TIMEOUT_MS (30 s): a draining worker finishes or hands
      # back its jobs before the kubelet's SIGKILL.
      terminationGracePeriodSeconds: 45
      securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 }
      containers:
        - name: worker
          image: switchyard/${app}
          ports: [{ name: health, containerPort: 3100 }]
          env:
            - { name: HEALTH_PORT, value: '3100' }
            - name: WORKER_ID
              valueFrom: { fieldRef: { fieldPath: metadata.name } }
          envFrom:
            - configMapRef: { name: switchyard-config }
            - secretRef: { name: switchyard-secrets }
          readinessProbe:
            httpGet: { path: /readyz, port: health }
            periodSeconds: 5
            failureThreshold: 2
          livenessProbe:
            httpGet: { path: /healthz, port: health }
            periodSeconds: 10
            failureThreshold: 3
          resources:
            requests: { cpu: 250m, memory: 128Mi }
            limits: { memory: 256Mi }
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: { drop: [ALL] }
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: ${app}
spec:
  maxUnavailable: 1
  selector:
    matchLabels: { app.kubernetes.io/name: ${app} }
---
# Scales on the queue's backlog: waiting + prioritized + delayed jobs already
# due (sy_queue_backlog), not the wait list alone, which misses prioritized
# and due delayed jobs. Every Switchyard process exports the gauge, hence max().
# A rate-limited queue does not drain faster with more replicas: keep
# maxReplicaCount x WORKER_CONCURRENCY near what its limit lets through.
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: ${app}
spec:
  scaleTargetRef: { name: ${app} }
  minReplicaCount: 2
  maxReplicaCount: 20
  pollingInterval: 15
  cooldownPeriod: 300
  triggers:
    - type: prometheus
      metadata:
        serverAddress: http://prometheus.monitoring.svc:9090
        query: max(sy_queue_backlog{queue="${queue}"})
        # Backlog per replica that triggers one more replica.
        threshold: '500'
`;
}
