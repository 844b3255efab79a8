/**
 * `node bench/dist/profile-summary.js <file.cpuprofile> [top]`: a text
 * flame-graph summary of a V8 CPU profile (from `pnpm bench --cpu-prof`):
 * self time by package and the functions with the most self time.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The package a script URL belongs to: an npm package, a workspace package, node: internals or (program)/(gc). */
export function packageOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const npm = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (npm) return npm[1]!.startsWith('@switchyard/') ? npm[1]! : npm[1]!;
  const workspace = /\/(packages|apps|bench)\/([^/]+)\//.exec(url);
  if (workspace) return workspace[1] === 'bench' ? 'bench' : `@switchyard/${workspace[2]}`;
  if (url.startsWith('node:')) return 'node:internal';
  return url;
}

export function summarizeProfile(profile: Profile, top = 25): string {
  const self = new Map<number, number>();
  profile.samples.forEach((id, index) =>
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)),
  );
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0;
    if (us === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const pkg = packageOf(url, functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
    const name = `${functionName || '(anonymous)'} ${pkg}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  }
  // Inclusive: a sample counts once for every package on its stack.
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const nodesById = new Map(profile.nodes.map((node) => [node.id, node]));
  const inclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = nodesById.get(at)!.callFrame;
      if (frame.url !== '') seen.add(packageOf(frame.url, frame.functionName));
    }
    for (const pkg of seen) inclusive.set(pkg, (inclusive.get(pkg) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
  const lines = [`total sampled ${(total / 1e6).toFixed(2)} s`, '', 'self time by package:'];
  for (const [name, us] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`  ${pct(us)}  ${name}`);
  lines.push('', 'inclusive time by package (a sample counts for every package on its stack):');
  for (const [name, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`  ${pct(us)}  ${name}`);
  lines.push('', 'self time by function:');
  for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`  ${pct(us)}  ${name}`);
  return lines.join('\n');
}

if (process.argv[1]?.endsWith('profile-summary.js')) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/dist/profile-summary.js <file.cpuprofile> [top]');
    process.exit(2);
  }
  console.log(
    summarizeProfile(
      JSON.parse(readFileSync(file, 'utf8')) as Profile,
      Number(process.argv[3] ?? 25),
    ),
  );
}
