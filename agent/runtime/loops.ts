/**
 * The agent's loops' timing and bodies: heartbeat rounds on a cluster-wide grid, fixed-rate
 * inventory with jitter, and the cheap change signal that asks for an inventory once a change
 * has settled. The Lifecycle runs them (serial, one stop signal).
 */
import type { Lifecycle } from '../../shared/lifecycle.js';
import type { Logger } from '../../shared/logging.js';

/** How long a changed node must stay unchanged before the change-triggered inventory. */
export const SETTLE_MS = 1000;

/** Fixed rate with ±10 % jitter: due `everyMs` after the last one started (not after it ended). */
export const jittered =
  (everyMs: number, random: () => number = Math.random) =>
  (started: number): number =>
    started + everyMs + (random() - 0.5) * 0.2 * everyMs - Date.now();

/**
 * Heartbeat rounds sit on a cluster-wide grid: round r starts at r × interval plus this node's
 * stagger (random, under 40 % of an interval) plus up to 10 % jitter. Every node thus agrees
 * on the round's slot number, which the probe set's per-round coverage of group pairs relies on.
 */
export function roundGrid(intervalMs: number, random: () => number = Math.random) {
  const stagger = Math.floor(random() * 0.4 * intervalMs);
  const roundOf = (t: number) => Math.floor((t - stagger) / intervalMs);
  const nextRound = (): number => {
    const now = Date.now();
    return (roundOf(now) + 1) * intervalMs + stagger + random() * 0.1 * intervalMs - now;
  };
  return { roundOf, nextRound };
}

/**
 * The change-signal loop's body: when the signal differs from the last one, wait until it holds
 * still (a change is often several steps: Docker or flannel recreating a VTEP, then putting its
 * neighbors and FDB entries back; a snapshot taken halfway would report a transient fault until
 * the next inventory), then inventory.
 */
export function changeSignalCheck(o: {
  lc: Lifecycle;
  signal: () => Promise<string>;
  initial: string;
  inventory: () => Promise<void>;
  log: Logger;
}): () => Promise<void> {
  let last = o.initial;
  return async () => {
    let s = await o.signal();
    if (s === last) return;
    for (let i = 0; i < 5; i++) {
      if (!(await o.lc.sleep(SETTLE_MS))) return;
      const again = await o.signal();
      if (again === s) break;
      s = again;
    }
    if (o.lc.stopping) return;
    last = s;
    o.log.info('change signal differs: inventory now');
    await o.inventory();
  };
}
