/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): where the time went, as markdown tables.
 *
 *   node --import tsx bench/http/profile.ts <file.cpuprofile> [--top 25]
 *
 * - by area: self time grouped by where the code lives (a package in node_modules, a folder of
 *   src/, node's internals, native code such as SQLite, the garbage collector);
 * - top inclusive: time with the function anywhere on the stack (counted once per sample even
 *   when it recurses). Async functions only include the synchronous stretches between awaits:
 *   code after an `await` runs from the microtask queue, under `processTicksAndRejections`;
 * - top self: time spent in the function's own code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of samples in which the process was idle (waiting on I/O, fsync, the network). */
  idleMs: number;
  areas: { area: string; selfMs: number }[];
  inclusive: { fn: string; ms: number }[];
  self: { fn: string; ms: number }[];
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A readable place for a script URL: `kysely/dist/…`, `dist/tickets/service.js`, `node:internal/…`. */
function place(url: string): string {
  if (!url) return '';
  if (url.startsWith('node:')) return url;
  let p = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = p.lastIndexOf('/node_modules/');
  if (nm >= 0) return p.slice(nm + '/node_modules/'.length);
  if (p.startsWith(`${ROOT}/`)) p = p.slice(ROOT.length + 1);
  return p;
}

function areaOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'garbage collector';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'V8/native, unattributed (program)';
    return 'native (C++ bindings: SQLite, crypto, fs, …)';
  }
  if (url.startsWith('node:')) return 'node internals (http, streams, timers, …)';
  const p = place(url);
  // The compiled server runs from dist/, which mirrors src/.
  if (p.startsWith('src/') || p.startsWith('dist/')) {
    const parts = p.split('/');
    return parts.length > 2 ? `src/${parts[1]}/` : `src/${parts[1]}`;
  }
  if (!p.includes('/')) return p;
  const parts = p.split('/');
  return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

function keyOf(frame: ProfileNode['callFrame']): string {
  const name = frame.functionName || '(anonymous)';
  const where = place(frame.url);
  return where ? `${name} ${where}:${frame.lineNumber + 1}` : name;
}

/**
 * `window`: only the samples taken in [fromUs, toUs] of the profile's clock (startTime/endTime are
 * on it), e.g. the stretch under load, leaving out start-up and shutdown.
 */
export function summarise(profile: CpuProfile, top = 25, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    const id = profile.samples[i]!;
    // timeDeltas[i + 1] is the time until the next sample: the time this sample stands for.
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const children = new Set(profile.nodes.flatMap((n) => n.children ?? []));
  const roots = profile.nodes.filter((n) => !children.has(n.id));

  const selfByKey = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areas = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  const onPath = new Map<string, number>();
  // Iterative DFS: subtree totals, credited to a function at its topmost occurrence on the stack.
  const subtree = new Map<number, number>();
  const visit = (root: ProfileNode) => {
    const stack: { node: ProfileNode; entered: boolean }[] = [{ node: root, entered: false }];
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const key = keyOf(top.node.callFrame);
      if (!top.entered) {
        top.entered = true;
        onPath.set(key, (onPath.get(key) ?? 0) + 1);
        for (const c of top.node.children ?? []) stack.push({ node: byId.get(c)!, entered: false });
        continue;
      }
      stack.pop();
      const own = self.get(top.node.id) ?? 0;
      const total = own + (top.node.children ?? []).reduce((s, c) => s + (subtree.get(c) ?? 0), 0);
      subtree.set(top.node.id, total);
      const count = onPath.get(key)! - 1;
      if (count === 0) {
        onPath.delete(key);
        inclusive.set(key, (inclusive.get(key) ?? 0) + total);
      } else onPath.set(key, count);
      if (own > 0) {
        totalMs += own;
        selfByKey.set(key, (selfByKey.get(key) ?? 0) + own);
        const area = areaOf(top.node.callFrame);
        if (area === 'idle') idleMs += own;
        areas.set(area, (areas.get(area) ?? 0) + own);
      }
    }
  };
  for (const r of roots) visit(r);

  // Frames on (nearly) every stack say nothing about where the time goes.
  const skip = new Set([
    '(root)',
    '(idle)',
    '(program)',
    'runMicrotasks',
    'processTicksAndRejections node:internal/process/task_queues:67',
    'processTimers node:internal/timers:499',
    'listOnTimeout node:internal/timers:519',
  ]);
  const sorted = (m: Map<string, number>) =>
    [...m.entries()]
      .filter(([k]) => !skip.has(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([fn, ms]) => ({ fn, ms }));
  return {
    totalMs,
    idleMs,
    areas: [...areas.entries()].sort((a, b) => b[1] - a[1]).map(([area, selfMs]) => ({ area, selfMs })),
    inclusive: sorted(inclusive),
    self: sorted(selfByKey),
  };
}

/** The summary as markdown; percentages are of the busy (non-idle) time. */
export function summaryMarkdown(s: ProfileSummary, title: string): string {
  const busy = s.totalMs - s.idleMs;
  const pct = (ms: number) => `${((100 * ms) / busy).toFixed(1)} %`;
  const lines = [
    `#### ${title}`,
    '',
    `Sampled ${(s.totalMs / 1000).toFixed(1)} s, of which busy ${(busy / 1000).toFixed(1)} s (idle ${((100 * s.idleMs) / Math.max(1, s.totalMs)).toFixed(0)} %: waiting on I/O, fsync or the network). Percentages below are of the busy time.`,
    '',
    '| area (self time) | ms | share |',
    '|---|---:|---:|',
    ...s.areas.filter((a) => a.area !== 'idle').map((a) => `| ${a.area} | ${a.selfMs.toFixed(0)} | ${pct(a.selfMs)} |`),
    '',
    '| top inclusive | ms | share |',
    '|---|---:|---:|',
    ...s.inclusive.map((f) => `| \`${f.fn}\` | ${f.ms.toFixed(0)} | ${pct(f.ms)} |`),
    '',
    '| top self | ms | share |',
    '|---|---:|---:|',
    ...s.self.map((f) => `| \`${f.fn}\` | ${f.ms.toFixed(0)} | ${pct(f.ms)} |`),
    '',
  ];
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node --import tsx bench/http/profile.ts <file.cpuprofile> [--top 25]');
    process.exit(2);
  }
  const ti = process.argv.indexOf('--top');
  const top = ti >= 0 ? Number(process.argv[ti + 1]) : 25;
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  console.log(summaryMarkdown(summarise(profile, top), path.basename(file)));
}
