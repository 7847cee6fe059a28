/**
 * Which peers a node probes in a round.
 *
 * Up to `fullMeshMax` nodes: everyone probes everyone, every round.
 *
 * Above it, with N nodes in G topology groups (sorted by name, members sorted), node s in group X
 * (index i in X, m = |X|, T = N - m peers outside X, c = crossPerNode, c' = ceil(c/2)) probes in
 * round r:
 *  - its own group: all m-1 mates if m-1 <= groupCap, else a window of `groupCap` mates that
 *    rotates by `groupCap` each round (mates[(r*groupCap + j) mod (m-1)], j < groupCap);
 *  - other groups: k = min(T, max(c, ceil((G-1)/m) + c')) "cross slots": ceil((G-1)/m) is s's share
 *    of X's duty to reach every other group every round, c' a reserve for walking big groups.
 *    X's cross schedule is a cyclic list C_X of length L made of one block per other group Y, in
 *    group order, holding S_Y = ceil(|Y|/n) slots, where n (the number of sweeps) is the smallest
 *    n >= 1 with L = sum_Y ceil(|Y|/n) <= m*k. (n = 1 and L = T whenever m*k >= T: C_X is then
 *    simply every peer outside X.) Node s takes the k consecutive "absolute" slots a = (i+R)*k + j
 *    (j < k), where R = floor(r/d) is the cross step and d = crossDwell: a node keeps its cross
 *    targets for d rounds, so a pair across groups gets d consecutive samples in a window instead
 *    of one, and the collector tracks about k*W/d cross pairs per node over a W-round window
 *    instead of k*W (at the defaults and a 24-round window: 87 distinct targets instead of 231).
 *    Slot a is position p = a mod L of C_X, in sweep u = floor(a/L); if p is the t-th slot of Y's
 *    block, s probes member (u*S_Y + t + hash(s)) mod |Y| of Y.
 *
 * Guarantees, for a fixed peer list that every node sees alike:
 *  - every ordered pair of groups, every round: in round r the members of X take the m*k
 *    consecutive absolute slots R*k .. (R+m)*k - 1, and L <= m*k, so they hit every block of C_X.
 *    (This needs the members of X to agree on r and d; the pair bound below does not.)
 *  - every directed pair within `coverageBound(peers)` consecutive rounds, starting at ANY round:
 *    s walks the absolute slots without gaps or repeats, and its successive visits to Y get
 *    successive member indices, so any |Y| successive visits reach all of Y. With Y's block
 *    contiguous, |Y| successive visits span at most D_Y = ceil(|Y|/S_Y)*(L - S_Y) + |Y| slots
 *    counted from just after the visit before them, hence
 *      cross(X) = (max over other groups Y of ceil(D_Y / k) - 1) * d + 1
 *    (that many steps; the first step's targets are probed in the starting round, and each later
 *    step starts d rounds after the one before)
 *      own(X)   = ceil((m-1)/groupCap)
 *      coverageBound = max over groups X of max(1, own(X), cross(X)).
 *    In closed form, in steps: ceil(T/k) when m*k >= T (n = 1), and always
 *    <= ceil(n*L/k) <= n*m <= m*ceil(T/(m*c')) < T/c' + m, since the reserve leaves
 *    m*k - (G-1) >= m*c' slots per round beyond X's group duty. So every pair is probed within
 *    about d*(2N/c + largest group) rounds, whatever the group sizes (5,000 nodes in 125 groups of
 *    40: 2,477 rounds, 3.4 h at 5 s; with d = 1 it would be 620 rounds). The dwell trades that
 *    sweep time for evidence per pair and collector state; the per-round group guarantee above
 *    does not depend on it.
 *    The bound is what the schedule actually needs (simulated: the worst node needs 99-100 % of
 *    it), and the schedule is within a small factor of any schedule with this budget: s needs T
 *    probes at k per round, and when m*k < T, X spends G-1 of its m*k slots per round on one probe
 *    per group, which limits how fast its members can walk a big group.
 *  - per node and round at most min(m-1, groupCap) + k targets. This is the constant
 *    min(m-1, groupCap) + c whenever every group has at least (G-1)/floor(c/2) members. It grows
 *    with N only when groups are tiny, and that is inherent in "every ordered pair of groups every
 *    round": a group of one node must probe all G-1 other groups itself, every round (1,000
 *    single-node groups: 999 targets per round, a full mesh; use a coarser --group-label then).
 *    Relaxing it to "either direction per pair of groups" (a probe is answered, so one direction
 *    already exercises the path both ways) would still leave (G-1)/2 per single-node group, so it
 *    only halves that cost; we keep both directions.
 *    The reserve c' costs at most c' extra targets, and only in the tiny-group regime; without it
 *    (k = max(c, ceil((G-1)/m))) a node of a 2-node group among 98 such groups and two 300-node
 *    groups would have no slack and need 594 rounds to reach everyone instead of 119.
 */
export interface PeerRef {
  name: string;
  group: string;
}

export interface ProbeSetOptions {
  fullMeshMax: number;
  groupCap: number;
  crossPerNode: number;
  /**
   * Rounds a node keeps its cross targets before it moves on (the cross schedule advances by one
   * step per `crossDwell` rounds; the own-group window still rotates every round). Every agent
   * must use the same value.
   */
  crossDwell: number;
}

export const DEFAULT_PROBESET: ProbeSetOptions = {
  fullMeshMax: 64,
  groupCap: 32,
  crossPerNode: 8,
  crossDwell: 4,
};

/** The step of the cross schedule in `round`: rounds in blocks of `dwell` (any integer round). */
export function crossStep(round: number, dwell: number): number {
  return Math.floor(round / Math.max(1, dwell));
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}

function mod(a: number, n: number): number {
  const r = a % n;
  return r < 0 ? r + n : r;
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Groups (sorted by name) and their members (sorted). A name listed twice counts once (first wins). */
export function groupsOf(peers: PeerRef[]): Map<string, string[]> {
  const seen = new Set<string>();
  const g = new Map<string, string[]>();
  for (const p of peers) {
    if (seen.has(p.name)) continue;
    seen.add(p.name);
    const members = g.get(p.group);
    if (members) members.push(p.name);
    else g.set(p.group, [p.name]);
  }
  for (const v of g.values()) v.sort(byString);
  return new Map([...g.entries()].sort((a, b) => byString(a[0], b[0])));
}

/** X's cross schedule; it depends only on m = |X| (and the topology), so it is shared per size. */
interface Plan {
  k: number; // cross slots per node and round
  n: number; // sweeps of C_X needed to reach every member of the largest group
  L: number; // length of C_X (X's own block left out)
  prefix: number[]; // block starts over ALL groups with S_Y = ceil(|Y|/n); length G+1
}

interface Topo {
  N: number;
  members: string[][]; // by group index
  where: Map<string, [group: number, index: number]>;
  sizeCount: Map<number, number>; // group size -> number of groups of that size
  plans: Map<number, Plan>;
}

function topology(peers: PeerRef[]): Topo {
  const members = [...groupsOf(peers).values()];
  const where = new Map<string, [number, number]>();
  const sizeCount = new Map<number, number>();
  let N = 0;
  for (let g = 0; g < members.length; g++) {
    const ms = members[g]!;
    for (let i = 0; i < ms.length; i++) where.set(ms[i]!, [g, i]);
    sizeCount.set(ms.length, (sizeCount.get(ms.length) ?? 0) + 1);
    N += ms.length;
  }
  return { N, members, where, sizeCount, plans: new Map() };
}

function planFor(t: Topo, m: number, opts: ProbeSetOptions): Plan {
  const hit = t.plans.get(m);
  if (hit) return hit;
  const G1 = t.members.length - 1;
  const T = t.N - m;
  const k = Math.min(T, Math.max(opts.crossPerNode, Math.ceil(G1 / m) + Math.ceil(opts.crossPerNode / 2)));
  // Slots C_X needs for n sweeps (own group excluded); non-increasing in n, and G1 <= m*k at n = max size.
  const need = (n: number) => {
    let s = -Math.ceil(m / n);
    for (const [size, count] of t.sizeCount) s += count * Math.ceil(size / n);
    return s;
  };
  let lo = 1;
  let hi = Math.max(...t.sizeCount.keys());
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (need(mid) <= m * k) hi = mid;
    else lo = mid + 1;
  }
  const n = lo;
  const prefix = [0];
  for (const ms of t.members) prefix.push(prefix[prefix.length - 1]! + Math.ceil(ms.length / n));
  const plan = { k, n, L: need(n), prefix };
  t.plans.set(m, plan);
  return plan;
}

/** Largest g with prefix[g] <= q. */
function blockOf(prefix: number[], q: number): number {
  let lo = 0;
  let hi = prefix.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (prefix[mid]! <= q) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// Building the topology is O(N log N); a peer list is reused for many rounds, so it is built once
// per list (and, when `self` is not in the list, once per list and self).
const cache = new WeakMap<PeerRef[], { base?: Topo; self?: { key: string; topo: Topo } }>();

function topoFor(self: PeerRef, peers: PeerRef[]): Topo {
  let c = cache.get(peers);
  if (!c) {
    c = {};
    cache.set(peers, c);
  }
  if (!c.base) c.base = topology(peers);
  if (c.base.where.has(self.name)) return c.base;
  const key = `${self.name}\u0000${self.group}`;
  if (c.self?.key !== key) c.self = { key, topo: topology([...peers, self]) };
  return c.self.topo;
}

/**
 * Targets of `self` in `round` (any integer; consecutive rounds are what the bound is about).
 * `peers` may include `self` (then its group in the list is used); `self` is never a target.
 * Treat `peers` as immutable: it is cached.
 */
export function selectTargets(
  self: PeerRef,
  peers: PeerRef[],
  round: number,
  opts = DEFAULT_PROBESET,
): string[] {
  const t = topoFor(self, peers);
  const [x, i] = t.where.get(self.name)!;
  if (t.N <= opts.fullMeshMax) {
    const out: string[] = [];
    for (const ms of t.members) for (const name of ms) if (name !== self.name) out.push(name);
    return out.sort(byString);
  }
  const own = t.members[x]!;
  const m = own.length;
  const out: string[] = [];
  const mates = m - 1;
  if (mates <= opts.groupCap) {
    for (const name of own) if (name !== self.name) out.push(name);
  } else {
    for (let j = 0; j < opts.groupCap; j++) {
      const q = mod(round * opts.groupCap + j, mates);
      out.push(own[q < i ? q : q + 1]!);
    }
  }
  if (t.members.length > 1) {
    const { k, L, prefix } = planFor(t, m, opts);
    const xStart = prefix[x]!;
    const xLen = prefix[x + 1]! - xStart;
    const h = hash(self.name);
    const a0 = (i + crossStep(round, opts.crossDwell)) * k;
    for (let j = 0; j < k; j++) {
      const a = a0 + j;
      const u = Math.floor(a / L);
      const p = a - u * L;
      const q = p < xStart ? p : p + xLen; // position among all blocks, X's block skipped
      const g = blockOf(prefix, q);
      const ys = t.members[g]!;
      const S = prefix[g + 1]! - prefix[g]!;
      out.push(ys[(mod(u, ys.length) * S + (q - prefix[g]!) + h) % ys.length]!);
    }
  }
  return [...new Set(out)];
}

/**
 * Number of consecutive rounds, starting at any round, within which every node has probed every
 * other node at least once (for a fixed peer list; formula in the header). 1 for a full mesh.
 */
export function coverageBound(peers: PeerRef[], opts = DEFAULT_PROBESET): number {
  const t = topology(peers);
  if (t.N <= opts.fullMeshMax) return 1;
  const d = Math.max(1, opts.crossDwell);
  let bound = 1;
  for (const m of t.sizeCount.keys()) {
    bound = Math.max(bound, Math.ceil((m - 1) / opts.groupCap));
    if (t.members.length === 1) continue;
    const { k, n, L } = planFor(t, m, opts);
    for (const [size, count] of t.sizeCount) {
      if (size === m && count === 1) continue; // only X itself has this size
      const S = Math.ceil(size / n);
      const span = Math.ceil(size / S) * (L - S) + size;
      // ceil(span/k) steps; from any round, the first step's targets are probed at once and each
      // later step begins `d` rounds after the one before.
      bound = Math.max(bound, (Math.ceil(span / k) - 1) * d + 1);
    }
  }
  return bound;
}

/** Largest number of targets any node gets in a round (see the header for the formula). */
export function maxTargetsPerRound(peers: PeerRef[], opts = DEFAULT_PROBESET): number {
  const t = topology(peers);
  if (t.N <= opts.fullMeshMax) return t.N - 1;
  let most = 0;
  for (const m of t.sizeCount.keys()) {
    const cross = t.members.length > 1 ? planFor(t, m, opts).k : 0;
    most = Math.max(most, Math.min(m - 1, opts.groupCap) + cross);
  }
  return most;
}
