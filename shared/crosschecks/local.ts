/**
 * Cross-node checks where the data is: each agent checks its OWN tables (FDB destinations,
 * VTEP address/MAC, VNI/port) against its peers' VTEP identities from the presence bucket, and
 * publishes only findings about itself. No message carries another node's tables, so nothing
 * grows with the cluster (README "Scale").
 *
 * Completeness (three-valued): an FDB destination no known node owns is a problem only when
 * - the presence bucket has been read to its end since this agent started (`synced`), and
 * - the address has stayed unowned for `settleMs` since then (default: two presence refreshes,
 *   2 × TTL/3): a peer that is starting has had two chances to publish its identity.
 * Until both hold it is an `unknown` finding ("peers have not reported yet"), which raises no
 * root cause: no false `fdb-wrong-destination` while a cluster starts or scales up. An address
 * a peer owned within `forgetMs` (default 10 min, the collector's forget time) still counts as
 * owned after that peer's presence expired: an agent that is down is `agent-down`, not a wrong
 * FDB on every other node. VNI/port majority and duplicate identities are judged once synced.
 */
import { runIsolated } from '../check-runner.js';
import type { Logger } from '../logging.js';
import type { CheckRun, ClusterMember, Finding, NodePresence, NodeSnapshot } from '../schema.js';
import { duplicateVtep } from './duplicate-vtep.js';
import { fdbUnowned } from './fdb-unowned.js';
import { vxlanParams } from './vxlan-params.js';

const bare = (a: string) => a.split('/')[0] as string;

/** A peer's presence record as a cluster member: its identities, no FDB (not its tables). */
export function presenceMember(p: NodePresence): ClusterMember {
  return {
    node: p.node,
    underlay: { addresses: p.underlay.map(bare) },
    vteps: p.vteps.map((v) => ({
      netns: '',
      dev: v.dev,
      style: v.style,
      ...(v.overlay ? { overlay: v.overlay } : {}),
      vni: v.vni,
      port: v.port,
      mac: v.mac,
      local: v.local,
      mtu: v.overlayMtu ?? 0,
      subnets: v.subnets ?? [],
      fdbDsts: [],
    })),
  };
}

/** This node as a cluster member (its whole VTEP summaries, with FDB destinations). */
export function selfMember(s: NodeSnapshot): ClusterMember {
  return {
    node: s.node,
    vteps: s.vteps,
    underlay: s.underlay ? { addresses: s.underlay.addresses.map(bare) } : null,
  };
}

export interface LocalCheckInput {
  self: NodeSnapshot;
  peers: NodePresence[];
  /** The presence bucket was read to its end at least once since start. */
  synced: boolean;
  /** Epoch ms. */
  now: number;
}

export interface LocalCheckerOptions {
  /** How long an address must stay unowned after sync before it is a problem (ms). */
  settleMs: number;
  /** How long a peer's addresses count as owned after its presence went (ms, default 10 min). */
  forgetMs?: number;
  options?: Record<string, Record<string, unknown>>;
  log?: Logger;
}

/** Keeps what the judgement needs across runs (first time unowned, last time owned); pure otherwise. */
export class LocalCrossChecker {
  private syncedAt: number | null = null;
  private readonly unownedSince = new Map<string, number>();
  private readonly ownedAt = new Map<string, number>();

  constructor(private readonly o: LocalCheckerOptions) {}

  run(i: LocalCheckInput): { findings: Finding[]; checkRuns: CheckRun[] } {
    if (i.synced && this.syncedAt === null) this.syncedAt = i.now;
    const forgetMs = this.o.forgetMs ?? 600_000;
    const peers = i.peers.filter((p) => p.node !== i.self.node).map(presenceMember);
    for (const p of peers)
      for (const a of [
        ...(p.underlay?.addresses ?? []),
        ...p.vteps.flatMap((v) => (v.local ? [v.local] : [])),
      ])
        this.ownedAt.set(a, i.now);
    for (const [a, at] of this.ownedAt) if (i.now - at > forgetMs) this.ownedAt.delete(a);
    // Peers gone lately still own their addresses (identity only: no VTEP parameters to compare).
    const live = new Set(peers.flatMap((p) => p.underlay?.addresses ?? []));
    const remembered: ClusterMember = {
      node: '\u0000remembered',
      underlay: { addresses: [...this.ownedAt.keys()].filter((a) => !live.has(a)) },
      vteps: [],
    };
    const self = selfMember(i.self);
    const members = [self, ...peers, remembered];
    const checks = i.synced ? [vxlanParams, duplicateVtep, fdbUnowned] : [fdbUnowned];
    const r = runIsolated(checks, (c, options) => c.run(members, { options }), this.o);
    const owned = new Set(
      members.flatMap((m) => [
        ...(m.underlay?.addresses ?? []),
        ...m.vteps.flatMap((v) => (v.local ? [v.local] : [])),
      ]),
    );
    const stray = new Set(self.vteps.flatMap((v) => v.fdbDsts.filter((d) => !owned.has(d))));
    for (const a of [...this.unownedSince.keys()]) if (!stray.has(a)) this.unownedSince.delete(a);
    for (const a of stray) if (!this.unownedSince.has(a)) this.unownedSince.set(a, i.now);
    const aged = (a: string) =>
      this.syncedAt !== null &&
      i.now - Math.max(this.unownedSince.get(a) ?? i.now, this.syncedAt) >= this.o.settleMs;
    const findings: Finding[] = [];
    for (const f of r.findings) {
      if (f.node !== i.self.node) continue;
      if (f.check !== 'fdb-unowned') {
        findings.push(f);
        continue;
      }
      const v = self.vteps.find((x) => `${x.dev}@${x.style}` === f.subject);
      const addrs = (v?.fdbDsts ?? []).filter((d) => stray.has(d));
      if (addrs.some(aged)) {
        findings.push(f);
        continue;
      }
      findings.push({
        ...f,
        status: 'unknown',
        severity: 'info',
        summary: `${f.node}'s ${v?.dev ?? f.subject} sends tunnel traffic to ${addrs.join(', ')}, which no node has claimed yet (${i.synced ? `judged once unowned for ${Math.round(this.o.settleMs / 1000)} s` : 'presence bucket not read to its end yet'}): judged once peers had time to report`,
        evidence: f.evidence,
        remediation: '',
      });
    }
    return { findings, checkRuns: r.checkRuns };
  }
}
