/**
 * `pnpm gen subscriber <name> --on <type>[,<type>...]`: the routing entry,
 * the worker app apps/worker-<name> with its tests, and its place in
 * docker-compose.yml, infra/k8s, infra/monitoring and the README. `pnpm
 * start` (apps/stack lists apps/worker-*) and the dashboard (its queues come
 * from the routing table) need no edit.
 *
 * Contract as for generateEvent: all checks first, nothing written on a
 * refusal, nothing changed on a re-run with the same answers, everything
 * rolled back when linking the workspace fails.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readCatalogueFacts } from './catalogue-facts.js';
import { applyChanges, ChangeSet } from './change-set.js';
import {
  GenerateStepError,
  InvalidNameError,
  NameTakenError,
  UnknownEventTypeError,
} from './errors.js';
import { fixturesPath } from './event-templates.js';
import { formatSource } from './format-source.js';
import { checkDescription, type GenerateResult } from './generate-event.js';
import {
  ensureComposeService,
  ensureKustomizeResource,
  ensureOverlayImage,
  ensurePrometheusComposeName,
  healthPortBases,
  k8sManifest,
  renderPrometheusWorkers,
  renderReadmeWorkers,
  type Ensure,
} from './infra-edits.js';
import { linkWorkspace } from './link-workspace.js';
import { checkSubscriberName } from './names.js';
import { findRegistryObject, normaliseSource } from './object-literal-edit.js';
import {
  appDir,
  appFiles,
  appName,
  defaultSubscriberDescription,
  routingEntry,
} from './subscriber-templates.js';

export const routingFile = 'packages/events/src/routing.ts';

export interface SubscriberAnswers {
  name: string;
  /** Event types it receives (`--on`), in order. */
  on: readonly string[];
  /** One line for humans (dashboard, docs). Default: "Calls its downstream once per <types>." */
  description?: string | undefined;
}

/** apps/worker-* folders that are packages, as apps/stack discovers them. */
function workerAppsIn(root: string): string[] {
  const apps = join(root, 'apps');
  if (!existsSync(apps)) return [];
  return readdirSync(apps, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name.startsWith('worker-'))
    .filter((entry) => existsSync(join(apps, entry.name, 'package.json')))
    .map((entry) => entry.name);
}

function fixtureSample(root: string, type: string, version: number) {
  const file = join(root, fixturesPath(type, version));
  if (!existsSync(file)) return undefined;
  const fixtures = JSON.parse(readFileSync(file, 'utf8')) as { valid?: Record<string, unknown>[] };
  const data = fixtures.valid?.[0];
  return data === undefined ? undefined : { version, data };
}

export async function generateSubscriber(
  root: string,
  answers: SubscriberAnswers,
): Promise<GenerateResult> {
  const { name } = answers;
  checkSubscriberName(name);
  const events = answers.on.map((type) => type.trim()).filter((type) => type !== '');
  if (events.length === 0) {
    throw new InvalidNameError('--on needs at least one event type, e.g. --on order.shipped');
  }
  const repeated = events.filter((type, i) => events.indexOf(type) !== i);
  if (repeated.length > 0) {
    throw new InvalidNameError(`--on names ${repeated.join(', ')} more than once`);
  }
  const description = answers.description ?? defaultSubscriberDescription(events);
  checkDescription(description);

  const facts = await readCatalogueFacts({ samples: events });
  const unknown = events.filter((type) => !Object.hasOwn(facts.events, type));
  if (unknown.length > 0) {
    throw new UnknownEventTypeError(
      `--on names event types the catalogue does not have: ${unknown.join(', ')}. Known: ${Object.keys(facts.events).join(', ')}. Add one with: pnpm gen event <type>`,
    );
  }
  const samples: Record<string, { version: number; data: Record<string, unknown> }> = {};
  for (const type of events) {
    const latest = facts.events[type]!.latest;
    const sample = fixtureSample(root, type, latest) ?? facts.samples[type] ?? undefined;
    if (sample === undefined) {
      throw new GenerateStepError(
        `cannot build a valid ${type} v${latest} payload for the generated tests; add ${fixturesPath(type, latest)} with {"valid": [<payload>], "invalid": []}`,
      );
    }
    samples[type] = sample;
  }
  const input = { name, description, events, samples };
  const app = appName(name);

  const set = new ChangeSet(root);
  const routing = findRegistryObject(set.require(routingFile), routingFile, 'subscribers');
  const entry = routingEntry(input);
  const existing = routing.propertyText(name);
  if (existing === undefined) {
    set.write(routingFile, await formatSource(root, routingFile, routing.withProperty(entry)));
  } else if (normaliseSource(existing) !== normaliseSource(entry.trim())) {
    set.conflicts.push(
      `${routingFile} already routes to a subscriber "${name}" (not as generated with these answers)`,
    );
  }

  for (const [path, text] of Object.entries(appFiles(input))) {
    set.ensureFile(path, await formatSource(root, path, text));
  }
  const manifest = `infra/k8s/base/${app}.yaml`;
  set.ensureFile(manifest, await formatSource(root, manifest, k8sManifest(app, name)));

  const workerApps = [...new Set([...workerAppsIn(root), app])].sort();
  const does = events.reduce((text, type) => text.split(type).join(`\`${type}\``), description);
  const edits: [string, (text: string) => Ensure][] = [
    ['docker-compose.yml', (text) => ensureComposeService(text, app)],
    [
      'infra/k8s/base/kustomization.yaml',
      (text) => ensureKustomizeResource(text, app, 'infra/k8s/base/kustomization.yaml'),
    ],
    [
      'infra/k8s/overlays/example/kustomization.yaml',
      (text) => ensureOverlayImage(text, app, 'infra/k8s/overlays/example/kustomization.yaml'),
    ],
    ['infra/monitoring/prometheus.yml', (text) => renderPrometheusWorkers(text, workerApps)],
    ['infra/monitoring/prometheus.compose.yml', (text) => ensurePrometheusComposeName(text, app)],
    ['README.md', (text) => renderReadmeWorkers(text, workerApps, { app, does })],
  ];
  for (const [path, edit] of edits) {
    const before = set.read(path);
    if (before === undefined) continue;
    const result = edit(before);
    if (result.conflict !== undefined) set.conflicts.push(result.conflict);
    else set.write(path, await formatSource(root, path, result.text));
  }

  if (set.conflicts.length > 0) {
    throw new NameTakenError(
      `subscriber "${name}" is taken:\n  - ${set.conflicts.join('\n  - ')}\nNothing was changed. Pick another name.`,
    );
  }
  const changes = set.changes();
  if (changes.length === 0) {
    return { written: [], notes: [`subscriber "${name}" is already generated; nothing changed`] };
  }

  const notes: string[] = [];
  const newPackage = changes.some((change) => change.path === `${appDir(name)}/package.json`);
  const lockFile = join(root, 'pnpm-lock.yaml');
  const lockBefore = existsSync(lockFile) ? readFileSync(lockFile, 'utf8') : undefined;
  await applyChanges(root, changes, async () => {
    if (!newPackage) return;
    try {
      const linked = await linkWorkspace(root);
      notes.push(
        `linked ${app} into the workspace: ${linked.command} (${(linked.durationMs / 1000).toFixed(1)} s; pnpm-lock.yaml updated)`,
      );
    } catch (error) {
      if (lockBefore !== undefined) {
        await writeFile(lockFile, lockBefore);
      }
      throw error;
    }
  });
  const ports = healthPortBases(workerApps).get(app)!;
  return {
    written: changes.map((change) => change.path),
    notes: [
      ...notes,
      `routes ${events.join(', ')} to the queue "${name}" (dead letters: "${name}.dlq"); the dashboard shows both`,
      `edit the handler skeleton in ${appDir(name)}/src/handlers.ts`,
      `test it: pnpm turbo run build --filter=@switchyard/${app}... && pnpm --filter @switchyard/${app} test`,
      `run it: pnpm start (its replicas serve health on ${ports}, ${ports + 1}, …)`,
    ],
  };
}
