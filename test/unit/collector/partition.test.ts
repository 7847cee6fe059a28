import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  fnv1a32,
  ownsSubject,
  parsePartition,
  partitionOf,
  partitionOfToken,
} from '../../../collector/partition/assign.js';
import {
  buildDigest,
  groupAggregates,
  mergeAggregates,
  mergeView,
  type PartitionDigest,
  parseDigest,
} from '../../../collector/partition/view.js';
import type { DiagnosisInput, NodeStatus, PairStatus } from '../../../collector/state/index.js';
import { formatStatus } from '../../../cli/status.js';
import { ConfigError } from '../../../shared/config.js';
import type { ProbePath, RootCause } from '../../../shared/schema.js';
import { nodeToken, subjectFor } from '../../../shared/subjects.js';

/** Node names of the shapes clusters have: EC2 private DNS, GKE, bare metal FQDNs, Swarm. */
function names(k: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < k; i++) {
    switch (i % 5) {
      case 0:
        out.push(`ip-10-${(i >> 8) & 255}-${i & 255}-7.eu-west-1.compute.internal`);
        break;
      case 1:
        out.push(`gke-prod-pool-${(i * 2654435761).toString(16).slice(0, 8)}-x${i}`);
        break;
      case 2:
        out.push(`worker_${i}.dc2.example.org`);
        break;
      case 3:
        out.push(`n${i}`);
        break;
      default:
        out.push(`rack${i % 7}-node-${i}`);
    }
  }
  return out;
}

describe('partition assignment', () => {
  it('FNV-1a 32 matches the published test vectors (the hash NATS partition() uses)', () => {
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  });

  it('every node is in exactly one partition, the same on every call, balanced within 15 % of the mean', () => {
    const all = names(3000);
    assert.equal(new Set(all).size, all.length);
    for (const n of [2, 3, 5, 8]) {
      const counts = new Array<number>(n).fill(0);
      for (const node of all) {
        const p = partitionOf(node, n);
        assert.ok(Number.isInteger(p) && p >= 0 && p < n, `${node} -> ${p}`);
        assert.equal(partitionOf(node, n), p);
        // Exactly one instance owns each node's subjects.
        const owners = [...Array(n).keys()].filter((i) =>
          ownsSubject(subjectFor(node, 'probes'), { index: i, count: n }),
        );
        assert.deepEqual(owners, [p]);
        counts[p] = (counts[p] ?? 0) + 1;
      }
      const mean = all.length / n;
      for (const c of counts) assert.ok(Math.abs(c - mean) <= 0.15 * mean, `n=${n}: ${counts.join(',')}`);
    }
  });

  it('hashes the subject token, so a dotted name and its token agree and names never collide into one token', () => {
    const dotted = 'ip-10-0-1-5.ec2.internal';
    assert.equal(partitionOf(dotted, 7), partitionOfToken(nodeToken(dotted), 7));
    assert.equal(partitionOf(dotted, 7), fnv1a32('ip-10-0-1-5_ec2_internal') % 7);
    // Two names that differ only in '.' vs '_' are different tokens (and may land apart).
    assert.notEqual(nodeToken('a.b'), nodeToken('a_b'));
  });

  it('subjects that are not per-node are handled by every instance', () => {
    for (const s of ['vxdoctor.v1', 'vxdoctor.v1.x', 'garbage'])
      for (let i = 0; i < 3; i++) assert.ok(ownsSubject(s, { index: i, count: 3 }), s);
  });

  it('--partition I/N: parsed, or a clear error naming the flag', () => {
    assert.deepEqual(parsePartition('1/3'), { index: 1, count: 3 });
    assert.deepEqual(parsePartition(' 0/2 '), { index: 0, count: 2 });
    for (const bad of ['3/3', '0/1', '1', 'a/b', '-1/2', '0/65', '1/2/3', ''])
      assert.throws(
        () => parsePartition(bad),
        (e: unknown) => e instanceof ConfigError && /--partition/.test(String(e)),
        bad,
      );
  });
});

// --- the cross-partition view -------------------------------------------------------------

const NOW = Date.parse('2026-12-01T12:00:00.000Z');
const LABEL = 'topology.kubernetes.io/zone';

function node(name: string, group: string): NodeStatus {
  return {
    name,
    labels: { [LABEL]: group },
    state: 'up',
    lastSeen: NOW,
    expiredAt: null,
    vteps: [{ style: 'flannel', port: 8472 }],
    unknowns: [],
    privileged: true,
  };
}

function pair(
  src: string,
  dst: string,
  path: ProbePath,
  port: number | null,
  fail: boolean,
  streak = 3,
): PairStatus {
  return {
    src,
    dst,
    path,
    port,
    status: fail ? 'fail' : 'pass',
    failStreak: fail ? streak : 0,
    failSince: fail ? NOW - streak * 5000 : null,
    last: {} as PairStatus['last'],
    sent: 3,
    answered: fail ? 0 : 3,
    window: { sent: 3, ok: fail ? 0 : 3, rounds: 3 } as unknown as PairStatus['window'],
    buckets: [],
  };
}

/** Two zones of varied size, every ordered pair probed on VXLAN 8472 and control UDP. */
function cluster(
  zones: Record<string, string[]>,
  failing: (src: string, dst: string, path: ProbePath) => boolean,
): { nodes: NodeStatus[]; pairs: PairStatus[] } {
  const nodes = Object.entries(zones).flatMap(([z, ns]) => ns.map((n) => node(n, z)));
  const pairs: PairStatus[] = [];
  for (const a of nodes)
    for (const b of nodes) {
      if (a === b) continue;
      pairs.push(pair(a.name, b.name, 'vxlan', 8472, failing(a.name, b.name, 'vxlan')));
      pairs.push(pair(a.name, b.name, 'control', 7999, failing(a.name, b.name, 'control')));
    }
  return { nodes, pairs };
}

/** What instance `index` of `count` holds: every node (presence), the pairs its sources probe. */
function share(c: { nodes: NodeStatus[]; pairs: PairStatus[] }, own: (n: string) => boolean): DiagnosisInput {
  return {
    now: NOW,
    windowMs: 60_000,
    groupLabel: LABEL,
    nodes: c.nodes,
    pairs: c.pairs.filter((p) => own(p.src)),
    findings: [],
  };
}

function digestOf(
  input: DiagnosisInput,
  index: number,
  count: number,
  own: (n: string) => number,
  rcs: RootCause[] = [],
) {
  return buildDigest({
    self: { index, count },
    instance: `host/${index}`,
    url: `http://127.0.0.1:${9700 + index}`,
    input,
    rootCauses: rcs,
    partitionOf: own,
  });
}

function merge(
  digests: PartitionDigest[],
  selfIndex: number,
  c: { nodes: NodeStatus[] },
  owner: (n: string) => number,
) {
  const byGroup = (g: string) => c.nodes.filter((n) => n.labels[LABEL] === g).map((n) => n.name);
  return mergeView({
    self: { index: selfIndex, count: digests[0]?.partition.count ?? 2 },
    own: digests.find((d) => d.partition.index === selfIndex) as PartitionDigest,
    peers: digests.filter((d) => d.partition.index !== selfIndex),
    now: NOW,
    staleMs: 10_000,
    groupLabel: LABEL,
    nodesOf: byGroup,
    allNodes: c.nodes.map((n) => n.name),
    partitionOf: owner,
  });
}

describe('cross-partition view', () => {
  const zones = {
    'eu-west-1a': ['ip-10-0-1-5.ec2.internal', 'ip-10-0-1-9.ec2.internal', 'ip-10-0-1-23.ec2.internal'],
    'eu-west-1b': ['worker_7.dc2.example.org', 'worker_8.dc2.example.org'],
  };
  const zoneOf = (n: string) => (zones['eu-west-1a'].includes(n) ? 'eu-west-1a' : 'eu-west-1b');
  const segmentFault = (s: string, d: string, path: ProbePath) => path === 'vxlan' && zoneOf(s) !== zoneOf(d);

  it('merged aggregates of the partitions equal the aggregates of the whole cluster', () => {
    const c = cluster(zones, segmentFault);
    const whole = groupAggregates(share(c, () => true));
    for (const count of [2, 3]) {
      const parts = [...Array(count).keys()].map((i) =>
        groupAggregates(share(c, (n) => partitionOf(n, count) === i)),
      );
      assert.deepEqual(mergeAggregates(parts), whole);
    }
    const cross = whole.find((a) => a.from === 'eu-west-1a' && a.to === 'eu-west-1b' && a.path === 'vxlan');
    assert.deepEqual([cross?.pairs, cross?.fail, cross?.minFailStreak], [6, 6, 3]);
  });

  it('a segment fault is named whichever instance owns which nodes (one zone per instance)', () => {
    const c = cluster(zones, segmentFault);
    // Instance 0 owns zone a, instance 1 zone b: neither holds a single pair of the other's sources.
    const owner = (n: string) => (zoneOf(n) === 'eu-west-1a' ? 0 : 1);
    const d = [0, 1].map((i) =>
      digestOf(
        share(c, (n) => owner(n) === i),
        i,
        2,
        owner,
      ),
    );
    for (const self of [0, 1]) {
      const v = merge(d, self, c, owner);
      assert.deepEqual(
        v.rootCauses.map((r) => r.id),
        [`underlay-vxlan-filtered:${LABEL}:eu-west-1a:eu-west-1b`],
      );
      const rc = v.rootCauses[0] as RootCause;
      assert.deepEqual(rc.nodes, [...zones['eu-west-1a'], ...zones['eu-west-1b']].sort());
      assert.match(rc.evidence[0] ?? '', /fails on UDP 8472 \(12 pairs/);
      assert.deepEqual(v.partitions.missing, []);
      assert.deepEqual(v.partitions.present, [0, 1]);
    }
  });

  it('pairs failing inside a zone on another instance veto the segment one instance alone would name', () => {
    // The whole of zone b drops VXLAN (inbound): a node-side fault, not the segment.
    const c = cluster(zones, (s, d, path) => path === 'vxlan' && zoneOf(d) === 'eu-west-1b');
    const owner = (n: string) => (zoneOf(n) === 'eu-west-1a' ? 0 : 1);
    const d = [0, 1].map((i) =>
      digestOf(
        share(c, (n) => owner(n) === i),
        i,
        2,
        owner,
      ),
    );
    // Instance 0 alone sees a -> b all failing, a -> a passing, control passing: a segment.
    const alone = merge([d[0] as PartitionDigest], 0, c, owner);
    assert.equal(alone.rootCauses.length, 1);
    assert.deepEqual(alone.partitions.missing, [1]);
    // The merged counts include b -> b failing: no segment verdict.
    assert.deepEqual(merge(d, 0, c, owner).rootCauses, []);
  });

  it('a healthy cluster and a single failing pair name nothing', () => {
    assert.deepEqual(
      merge(
        [0, 1].map((i) =>
          digestOf(
            share(
              cluster(zones, () => false),
              (n) => partitionOf(n, 2) === i,
            ),
            i,
            2,
            (n) => partitionOf(n, 2),
          ),
        ),
        0,
        cluster(zones, () => false),
        (n) => partitionOf(n, 2),
      ).rootCauses,
      [],
    );
    const one = cluster(
      zones,
      (s, d, p) => p === 'vxlan' && s === 'worker_7.dc2.example.org' && d === 'ip-10-0-1-5.ec2.internal',
    );
    const owner = (n: string) => partitionOf(n, 2);
    const d = [0, 1].map((i) =>
      digestOf(
        share(one, (n) => owner(n) === i),
        i,
        2,
        owner,
      ),
    );
    assert.deepEqual(merge(d, 1, one, owner).rootCauses, []);
  });

  it('an instance whose digest is stale or absent is reported missing with the nodes nobody judges', () => {
    const c = cluster(zones, () => false);
    const owner = (n: string) => partitionOf(n, 3);
    const d = [0, 1, 2].map((i) =>
      digestOf(
        share(c, (n) => owner(n) === i),
        i,
        3,
        owner,
      ),
    );
    const stale = { ...(d[2] as PartitionDigest), at: NOW - 60_000 };
    const v = merge([d[0] as PartitionDigest, d[1] as PartitionDigest, stale], 0, c, owner);
    assert.deepEqual(v.partitions.present, [0, 1]);
    assert.deepEqual(v.partitions.missing, [2]);
    const expected = c.nodes.map((n) => n.name).filter((n) => owner(n) === 2);
    assert.equal(v.partitions.unjudgedNodes, expected.length);
    assert.deepEqual(v.partitions.unjudgedSample.sort(), expected.sort());
    // A digest of another split (count 2) is not one of ours.
    const other = digestOf(
      share(c, () => true),
      1,
      2,
      (n) => partitionOf(n, 2),
    );
    assert.deepEqual(merge([d[0] as PartitionDigest, other], 0, c, owner).partitions.missing, [1, 2]);
  });

  it('root causes of every instance are one list: one per id, most severe, earliest since, nodes and evidence united', () => {
    const c = cluster(zones, () => false);
    const owner = (n: string) => partitionOf(n, 2);
    const rc = (since: string, severity: RootCause['severity'], ev: string): RootCause => ({
      id: 'node-unreachable:worker_7.dc2.example.org',
      kind: 'node-unreachable',
      severity,
      nodes: ['worker_7.dc2.example.org'],
      summary: 's',
      evidence: [ev],
      remediation: 'r',
      since,
    });
    const localSegment: RootCause = {
      ...rc('2026-12-01T11:00:00.000Z', 'critical', 'x'),
      id: `underlay-vxlan-filtered:${LABEL}:eu-west-1a:eu-west-1b`,
      kind: 'underlay-vxlan-filtered',
      segment: { label: LABEL, from: 'eu-west-1a', to: 'eu-west-1b' },
    };
    const d0 = digestOf(
      share(c, (n) => owner(n) === 0),
      0,
      2,
      owner,
      [rc('2026-12-01T11:59:00.000Z', 'warning', 'from 0'), localSegment],
    );
    const d1 = digestOf(
      share(c, (n) => owner(n) === 1),
      1,
      2,
      owner,
      [rc('2026-12-01T11:58:00.000Z', 'critical', 'from 1')],
    );
    const v = merge([d0, d1], 0, c, owner);
    // The local segment verdict is dropped: the merged counts (all passing) do not support it.
    assert.deepEqual(
      v.rootCauses.map((r) => r.id),
      ['node-unreachable:worker_7.dc2.example.org'],
    );
    const m = v.rootCauses[0] as RootCause;
    assert.equal(m.severity, 'critical');
    assert.equal(m.since, '2026-12-01T11:58:00.000Z');
    assert.deepEqual(m.evidence.sort(), ['from 0', 'from 1']);
  });

  it('digests read back parse; garbage and wrong shapes do not', () => {
    const c = cluster(zones, segmentFault);
    const d = digestOf(
      share(c, () => true),
      0,
      2,
      () => 0,
    );
    assert.deepEqual(parseDigest(Buffer.from(JSON.stringify(d))), d);
    for (const bad of [
      '',
      '{',
      'null',
      '[]',
      JSON.stringify({ ...d, schemaVersion: 2 }),
      JSON.stringify({ ...d, groups: [{ from: 1 }] }),
      JSON.stringify({ ...d, rootCauses: [{ id: 'x', kind: 'no-such-kind', nodes: [] }] }),
    ])
      assert.equal(parseDigest(Buffer.from(bad)), null, bad);
  });
});

describe('vxdoctor status with partitions', () => {
  const report = (missing: number[]) => ({
    collector: 'http://127.0.0.1:9700',
    generatedAt: new Date(NOW).toISOString(),
    ready: true,
    natsConnected: true,
    nodes: [],
    rootCauses: [],
    paths: [],
    partitions: {
      count: 3,
      index: 0,
      present: [0, 1, 2].filter((i) => !missing.includes(i)),
      missing,
      unjudgedNodes: missing.length ? 25 : 0,
      unjudgedSample: missing.length ? ['worker_7.dc2.example.org', 'n3'] : [],
      rootCausesOmitted: 0,
    },
    exitCode: 0 as const,
  });
  it('names the missing partitions and the nodes nobody judges; all present is one line', () => {
    assert.match(
      formatStatus(report([2])),
      /Collectors: +2\/3 partitions answer; MISSING 2\/3: 25 nodes judged by nobody \(worker_7\.dc2\.example\.org, n3, \.\.\.\)/,
    );
    assert.match(formatStatus(report([])), /Collectors: +3\/3 partitions answer\n/);
  });
});
