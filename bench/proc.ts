/**
 * What the benches read from Linux's /proc about the processes they start and the machine they
 * run on: process trees, CPU time, memory, and how busy each CPU is.
 */
import fs from 'node:fs';

/** Clock ticks per second of /proc's CPU counters (USER_HZ, 100 on Linux). */
const TICK_MS = 1000 / 100;

/** Children of a process, recursively (npm start -> sh -> node; a cluster's primary -> its processes). */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      /* exited meanwhile */
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const c of parents.get(queue.shift()!) ?? []) {
      found.push(c);
      queue.push(c);
    }
  }
  return found;
}

/** User + system CPU of a process in ms; with `children`, also of the children it has waited for. */
export function cpuMs(pid: number, options: { children: boolean }): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const own = Number(f[11]) + Number(f[12]);
  return (options.children ? own + Number(f[13]) + Number(f[14]) : own) * TICK_MS;
}

/** User + system CPU of the processes that are still running (not of their children), in ms. */
export function runningCpuMs(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += cpuMs(pid, { children: false });
    } catch {
      /* exited */
    }
  }
  return total;
}

/** Resident memory of a process now and at its peak, in MB. */
export function memory(pid: number): { rssMb: number; hwmMb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

/** Busy jiffies (user+nice+system+irq+softirq+steal) of the whole machine (`cpu`) and of each CPU (`cpu0`, …). */
export function busyJiffies(): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^(cpu\d*)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [user, nice, system, , , irq, softirq, steal] = m[2]!.split(/\s+/).map(Number);
    out.set(m[1]!, user! + nice! + system! + irq! + softirq! + steal!);
  }
  return out;
}
