/**
 * Change-driven inventory: ONE netlink listener for the agent's namespace and every namespace
 * that has an nsid there (`ip -o monitor all-nsid`, measured on iproute2 6.1: events of other
 * namespaces arrive labelled `[nsid N]`; a namespace gets an nsid in the host as soon as a
 * device is moved between them, as Docker does with its VTEPs, or a veth pair spans them), not a
 * process per namespace. FDB changes arrive as neighbor events. What is noise for the inventory
 * is dropped here: dynamic neighbor states (REACHABLE/STALE/DELAY/PROBE churn of the underlay's
 * ARP cache, which heartbeats cause every round) and route-cache (learned PMTU) entries; a
 * deleted programmed entry (reported as `Deleted <ip> dev X FAILED`, without lladdr) counts.
 * Namespaces without an nsid in the agent's namespace are covered by the periodic inventory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Logger } from '../../shared/logging.js';

export const MONITOR_ARGS = ['-o', 'monitor', 'all-nsid', 'link', 'address', 'route', 'neigh'];

const DYNAMIC_NUD = /\b(REACHABLE|STALE|DELAY|PROBE|INCOMPLETE|FAILED|NONE)\b/;

/** The namespace label of a monitor line (`[nsid 3]` -> '3', `[nsid current]` -> 'current'). */
export function nsidOf(line: string): string {
  return /^\[nsid (\w+)\]/.exec(line)?.[1] ?? 'current';
}

/** Whether one `ip -o monitor` line is a change the inventory must see. */
export function relevantChange(line: string): boolean {
  const l = line.replace(/^\[nsid \w+\]\s*/, '').trim();
  if (l === '') return false;
  if (/^(Deleted\s+)?(\S+\s+)?cache\b/.test(l) || /\bcache\b.*\bexpires\b/.test(l)) return false;
  // Neighbor entries: only programmed ones (PERMANENT/NOARP: what overlays write, and FDB
  // entries) count; the kernel's own resolution states change all the time.
  if (/\blladdr\b|\bdev\b.*\b(REACHABLE|STALE|DELAY|PROBE|INCOMPLETE|FAILED)\b/.test(l)) {
    // Loopback's NOARP entries come and go with the kernel's garbage collection (measured: one
    // `Deleted 0.0.0.0 dev lo ... NOARP` a minute with 64 peers); no overlay programs lo.
    if (/\bdev lo\b/.test(l)) return false;
    if (/\b(PERMANENT|NOARP)\b/.test(l)) return true;
    // A deleted PERMANENT entry is reported as `Deleted <ip> dev X FAILED` (no lladdr, measured);
    // the kernel's own garbage collection of resolved entries keeps its lladdr and state.
    if (/^Deleted\s/.test(l) && !/\blladdr\b/.test(l)) return true;
    if (DYNAMIC_NUD.test(l)) return false;
  }
  return true;
}

export interface Debounced {
  /** Note a change (a burst of them costs one call of `fire`). */
  poke(): void;
  stop(): void;
}

/**
 * Calls `fire` once things have been quiet for `quietMs` after the last poke, or `maxMs` after
 * the first poke of a burst, whichever is first; pokes while `fire` runs lead to one more call.
 */
export function debounce(fire: () => Promise<void>, quietMs: number, maxMs: number): Debounced {
  let first = 0;
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  let again = false;
  let stopped = false;
  const run = async () => {
    timer = null;
    first = 0;
    if (stopped) return;
    running = true;
    try {
      await fire();
    } finally {
      running = false;
      if (again && !stopped) {
        again = false;
        poke();
      }
    }
  };
  const poke = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    const now = Date.now();
    if (first === 0) first = now;
    if (timer) clearTimeout(timer);
    timer = setTimeout(run, Math.max(0, Math.min(quietMs, first + maxMs - now)));
  };
  return {
    poke,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

export interface WatchOptions {
  onChange: (nsid: string, line: string) => void;
  log: Logger;
  /** For tests: what to run instead of `ip` (argv[0]). */
  command?: string;
  args?: string[];
}

/** Starts the listener, restarted (1 s, then up to 30 s backoff) should it exit. */
export function watchNetlink(o: WatchOptions): { stop(): void; pid(): number | undefined } {
  let child: ChildProcess | null = null;
  let stopped = false;
  let backoff = 1000;
  let restart: NodeJS.Timeout | null = null;
  const start = () => {
    if (stopped) return;
    const c = spawn(o.command ?? 'ip', o.args ?? MONITOR_ARGS, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    let buf = '';
    c.stdout?.setEncoding('utf8');
    c.stdout?.on('data', (d: string) => {
      backoff = 1000;
      buf += d;
      let i = buf.indexOf('\n');
      while (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (relevantChange(line)) o.onChange(nsidOf(line), line);
        i = buf.indexOf('\n');
      }
    });
    c.stderr?.resume();
    c.once('error', (err) => o.log.warn({ err }, 'netlink monitor failed to start'));
    c.once('close', (code) => {
      child = null;
      if (stopped) return;
      o.log.warn({ code, retryInMs: backoff }, 'netlink monitor exited; restarting');
      restart = setTimeout(start, backoff);
      backoff = Math.min(30_000, backoff * 2);
    });
  };
  start();
  return {
    stop() {
      stopped = true;
      if (restart) clearTimeout(restart);
      child?.kill('SIGTERM');
    },
    pid: () => child?.pid,
  };
}
