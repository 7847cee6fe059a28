/**
 * The compact summary of a node's inventory (NodeSummary, shared/schema.ts): what an agent
 * publishes on change instead of its whole snapshot, and what the collector keeps. Pure, used
 * by the agent (agent/publish/messages.ts) and by the collector for snapshots of older agents.
 * Its size is O(the node's own namespaces, VTEPs and chains), never O(cluster): FDB, neighbor,
 * route and link tables become a count and a digest each.
 */
import { createHash } from 'node:crypto';
import type { NetnsSnapshot, NodeSnapshot, NodeSummary, TableDigest } from './schema.js';

/** First 16 hex digits of the SHA-256 of a text. */
export function digestOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * NUD states a neighbor entry passes through on its own (REACHABLE -> STALE -> DELAY -> PROBE)
 * every few seconds: a digest including them would change on every inventory. They read as
 * `dynamic`; PERMANENT, NOARP, INCOMPLETE and FAILED (what the checks act on) stay.
 */
const VOLATILE_NUD = new Set(['REACHABLE', 'STALE', 'DELAY', 'PROBE']);
function stableNeighbors(ns: NetnsSnapshot): unknown[] {
  return ns.neighbors.map((n) => ({
    ...n,
    state: [...new Set(n.state.map((s) => (VOLATILE_NUD.has(s) ? 'dynamic' : s)))].sort(),
  }));
}

function table(rows: unknown[]): TableDigest {
  return { count: rows.length, digest: digestOf(JSON.stringify(rows)) };
}

/**
 * The inventory's content digest: everything but the times and the volatile neighbor states.
 * Equal digests mean nothing the checks or the collector read has changed.
 */
export function snapshotDigest(s: NodeSnapshot): string {
  return digestOf(
    JSON.stringify({
      ...s,
      takenAt: '',
      durationMs: 0,
      namespaces: s.namespaces.map((ns) => ({ ...ns, neighbors: stableNeighbors(ns) })),
    }),
  );
}

/** Summarizes a snapshot (pure; the same snapshot always gives the same summary). */
export function summarize(s: NodeSnapshot): NodeSummary {
  return {
    schemaVersion: s.schemaVersion,
    node: s.node,
    labels: s.labels,
    takenAt: s.takenAt,
    durationMs: s.durationMs,
    digest: snapshotDigest(s),
    host: s.host,
    namespaces: s.namespaces.map((ns) => ({
      id: ns.id,
      name: ns.name,
      path: ns.path,
      inode: ns.inode,
      origin: ns.origin,
      role: ns.role,
      tables: {
        links: table(ns.links),
        routes: table(ns.routes),
        neighbors: table(stableNeighbors(ns)),
        fdb: table(ns.fdb),
      },
      sysctls: ns.sysctls,
      unknowns: ns.unknowns,
    })),
    chains: s.chains,
    vteps: s.vteps.map(({ fdbDsts, ...v }) => ({ ...v, fdb: table([...fdbDsts].sort()) })),
    underlay: s.underlay,
    firewall: s.firewall,
    docker: s.docker,
    unknowns: s.unknowns,
  };
}
