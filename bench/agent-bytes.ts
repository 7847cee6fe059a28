/**
 * Agent-side bytes published per node per hour, before and after the compact summary (issue 15
 * part B), at N simulated peers. The node is the lab's healthy flannel + Docker node
 * (test/fixtures/checks/lab/healthy/n1.json) grown to a member of an N+1 node cluster: its
 * flannel FDB, neighbor and route tables hold one entry per peer, as flannel programs them.
 * Messages are built with the agent's own builders (agent/publish/messages.ts) and measured as
 * the JSON bytes the outbox publishes. Probes messages are O(the probe set) and unchanged here
 * (bench/collector-scale.ts measures them), so they are left out of both columns.
 *
 * Cadences (agent defaults): inventory every 30 s, `--republish-interval` 5 min, presence
 * refreshed every TTL/3 = 10 s. Before: the whole snapshot at every inventory (120/h), the
 * cadence issue 15's simulator published (the old content key included neighbor NUD states,
 * which age between inventories on a node with traffic). After: the summary on a change of its digest (aging ignored) plus the
 * 5 min refresh: 12/h in a steady cluster; `afterChurn` is the worst case of a digest change at
 * every inventory (a cluster scaling the whole hour).
 * Usage: node --import tsx bench/agent-bytes.ts [peers...]   (default 100 1000 5000)
 */
import { readFileSync } from 'node:fs';
import { findingsMessage, presenceRecord, summaryMessage } from '../agent/publish/messages.js';
import type { NodeSnapshot, SnapshotMessage } from '../shared/schema.js';
import { SCHEMA_VERSION } from '../shared/schema.js';

const BASE = JSON.parse(
  readFileSync(new URL('../test/fixtures/checks/lab/healthy/n1.json', import.meta.url), 'utf8'),
) as NodeSnapshot;

const addr = (i: number) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const mac = (i: number) =>
  `0a:58:${[i >> 16, (i >> 8) & 255, i & 255, 7].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;

/** The node as a member of a cluster of `peers` others (flannel: one FDB/neigh/route per peer). */
export function clusterNode(peers: number): NodeSnapshot {
  const s = structuredClone(BASE);
  const ns = s.namespaces.find((n) => n.links.some((l) => l.name === 'flannel.1')) ?? s.namespaces[0]!;
  for (let i = 0; i < peers; i++) {
    const pod = `10.${(244 + (i >> 16)) & 255}.${(i >> 8) & 255}.${i & 255}`;
    ns.fdb.push({
      mac: mac(i),
      dev: 'flannel.1',
      dst: addr(i),
      master: null,
      state: 'permanent',
      flags: ['self'],
      vni: null,
    });
    ns.neighbors.push({ dst: pod, dev: 'flannel.1', lladdr: mac(i), state: ['PERMANENT'] });
    ns.routes.push({
      dst: `${pod}/24`,
      dev: 'flannel.1',
      gateway: pod,
      prefsrc: null,
      flags: ['onlink'],
      mtu: null,
      table: 'main',
    });
    // Pods this node talks to: dynamic neighbor entries on the bridge, aging all the time.
    if (i % 4 === 0)
      ns.neighbors.push({
        dst: `10.250.${(i >> 8) & 255}.${i & 255}`,
        dev: 'cni0',
        lladdr: mac(i + 1),
        state: ['REACHABLE'],
      });
  }
  const v = s.vteps.find((x) => x.dev === 'flannel.1');
  if (v) v.fdbDsts = [...v.fdbDsts, ...Array.from({ length: peers }, (_, i) => addr(i))];
  return s;
}

const bytes = (m: unknown) => Buffer.byteLength(JSON.stringify(m));
const PER_HOUR = { inventory: 120, republish: 12, presence: 360 };

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const results = (sizes.length ? sizes : [100, 1000, 5000]).map((peers) => {
  const s = clusterNode(peers);
  const env = { node: s.node, at: 1_700_000_000_000, id: '00000000-0000-4000-8000-000000000000' };
  const whole: SnapshotMessage = { schemaVersion: SCHEMA_VERSION, ...env, type: 'snapshot', snapshot: s };
  const summary = summaryMessage(env, s);
  const findings = findingsMessage(env, [], [{ check: 'vtep-state', ok: true, durationSeconds: 0.0001 }]);
  const presence = presenceRecord({ node: s.node, labels: s.labels, version: '0.0.0', at: env.at }, s, {
    probePort: 7999,
    overlayEndpoints: [{ style: 'flannel', vni: 1, address: '10.244.1.0' }],
  });
  const f = bytes(findings) * PER_HOUR.republish;
  const p = bytes(presence) * PER_HOUR.presence;
  return {
    peers,
    snapshotBytes: bytes(whole),
    summaryBytes: bytes(summary),
    presenceBytes: bytes(presence),
    findingsBytes: bytes(findings),
    perHour: {
      before: bytes(whole) * PER_HOUR.inventory + f + p,
      after: bytes(summary) * PER_HOUR.republish + f + p,
      afterChurn: bytes(summary) * PER_HOUR.inventory + f + p,
    },
  };
});
console.log(JSON.stringify({ bench: 'agent-bytes', perHour: PER_HOUR, results }, null, 2));
