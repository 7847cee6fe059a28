/**
 * Which peers a node probes in a round.
 *
 * Up to `fullMeshMax` nodes: everyone probes everyone, every round.
 * Above it, node s in group X (members sorted, s at index i, m = |X|) probes:
 *  - its own group: `groupCap` members, a window rotating by `groupCap` each round;
 *  - other groups: k = max(crossPerNode, ceil((G-1)/m)) of the G-1 other groups (sorted list O),
 *    namely O[(i*k + j + r*k) mod (G-1)] for j < k, and in each such group Y the member
 *    Y[(floor(r / P) + h(s)) mod |Y|] where P = ceil((G-1)/k).
 * Guarantees:
 *  - every pair of groups in every round: members 0..m-1 of X together cover the m*k >= G-1
 *    consecutive positions of O;
 *  - every directed pair within `coverageBound` rounds: s reaches each other group once every
 *    P rounds and walks that group's members one per visit, so cross-group pairs take at most
 *    P * max|Y| rounds; own-group pairs ceil((m-1)/groupCap) rounds.
 *  - per node and round at most groupCap + k targets; k = crossPerNode (a constant) whenever
 *    every group has at least ceil((G-1)/crossPerNode) members.
 */
export interface PeerRef {
  name: string;
  group: string;
}

export interface ProbeSetOptions {
  fullMeshMax: number;
  groupCap: number;
  crossPerNode: number;
}

export const DEFAULT_PROBESET: ProbeSetOptions = { fullMeshMax: 64, groupCap: 32, crossPerNode: 8 };

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}

export function groupsOf(peers: PeerRef[]): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const p of peers) g.set(p.group, [...(g.get(p.group) ?? []), p.name]);
  for (const v of g.values()) v.sort();
  return new Map([...g.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

// Grouping is O(N log N); a peer list is reused for many rounds, so it is computed once per list.
const cache = new WeakMap<PeerRef[], { names: string[]; has: Set<string>; groups: Map<string, string[]> }>();

/** `peers` may include `self`; it is never a target. Treat `peers` as immutable (cached). */
export function selectTargets(
  self: PeerRef,
  peers: PeerRef[],
  round: number,
  opts = DEFAULT_PROBESET,
): string[] {
  let c = cache.get(peers);
  if (!c) {
    const names = [...new Set(peers.map((p) => p.name))].sort();
    c = { names, has: new Set(names), groups: groupsOf(peers) };
    cache.set(peers, c);
  }
  const inList = c.has.has(self.name);
  if (c.names.length + (inList ? 0 : 1) <= opts.fullMeshMax) return c.names.filter((x) => x !== self.name);
  const groups = inList ? c.groups : groupsOf([...peers, self]);
  const own = groups.get(self.group) ?? [self.name];
  const i = own.indexOf(self.name);
  const out: string[] = [];
  const mates = own.filter((n) => n !== self.name);
  if (mates.length <= opts.groupCap) out.push(...mates);
  else for (let j = 0; j < opts.groupCap; j++) out.push(mates[(round * opts.groupCap + j) % mates.length]!);
  const others = [...groups.keys()].filter((g) => g !== self.group);
  const G1 = others.length;
  if (G1 === 0) return [...new Set(out)];
  const k = Math.min(G1, Math.max(opts.crossPerNode, Math.ceil(G1 / own.length)));
  const P = Math.ceil(G1 / k);
  const h = hash(self.name);
  for (let j = 0; j < k; j++) {
    const members = groups.get(others[(i * k + j + round * k) % G1]!)!;
    out.push(members[(Math.floor(round / P) + h) % members.length]!);
  }
  return [...new Set(out)];
}

/** Rounds after which every directed pair has been probed at least once (see the header). */
export function coverageBound(peers: PeerRef[], opts = DEFAULT_PROBESET): number {
  if (peers.length <= opts.fullMeshMax) return 1;
  const groups = groupsOf(peers);
  const G1 = groups.size - 1;
  const sizes = [...groups.values()].map((g) => g.length);
  const maxSize = Math.max(...sizes);
  const own = Math.ceil((maxSize - 1) / opts.groupCap);
  if (G1 === 0) return own;
  const minSize = Math.min(...sizes);
  const k = Math.min(G1, Math.max(opts.crossPerNode, Math.ceil(G1 / minSize)));
  // P rounds per sweep over the other groups, one member per visit (plus one sweep of slack
  // for the phase of floor(r/P) at the start).
  return Math.max(own, Math.ceil(G1 / k) * (maxSize + 1));
}
