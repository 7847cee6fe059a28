/**
 * Synthetic agent message streams for collector tests: four nodes in two racks (the lab's
 * topology), every probe path, and fault functions that change each probe's fate the way the
 * lab's faults do.
 */
import type {
  ArrivalReport,
  Finding,
  FindingsMessage,
  NodePresence,
  ProbePath,
  ProbeResult,
  ProbesMessage,
  RootCauseKind,
  Severity,
  SnapshotMessage,
} from '../../../shared/schema.js';

export const RACK: Record<string, string> = { n1: 'A', n2: 'A', n3: 'B', n4: 'B' };
export const NODES = Object.keys(RACK);
export const UNDERLAY: Record<string, string> = {
  n1: '10.200.1.11',
  n2: '10.200.1.12',
  n3: '10.200.2.13',
  n4: '10.200.2.14',
};
export const T0 = Date.parse('2026-11-22T12:00:00.000Z');
export const ROUND_MS = 5000;

/** One probe slot: path + port. Control has the agent UDP port and the Swarm TCP ports. */
export const SLOTS: Array<{ path: ProbePath; port: number }> = [
  { path: 'vxlan', port: 4789 },
  { path: 'control', port: 7999 },
  { path: 'control', port: 7946 },
  { path: 'control', port: 2377 },
  { path: 'pmtu', port: 4789 },
  { path: 'overlay', port: 4789 },
];

export type Outcome =
  | { kind: 'ok' }
  | { kind: 'lost-in-path' } // left src, never reached dst
  | { kind: 'dropped-at-dst' } // reached dst NIC, no answer
  | { kind: 'no-capture-loss' } // lost, dst arrival unknown (filled from arrival reports)
  | { kind: 'mtu'; largestPassing: number; frag: number | null };

/** A fault decides each probe's outcome. */
export type Fault = (src: string, dst: string, path: ProbePath, port: number) => Outcome;
export const healthy: Fault = () => ({ kind: 'ok' });

export function probe(
  src: string,
  dst: string,
  path: ProbePath,
  port: number,
  round: number,
  at: number,
  o: Outcome,
): ProbeResult {
  const ok = o.kind === 'ok' || o.kind === 'mtu';
  const r: ProbeResult = {
    path,
    src,
    dst,
    target: path === 'overlay' ? `10.0.1.1${dst.slice(1)}` : (UNDERLAY[dst] as string),
    port,
    round,
    at,
    sent: true,
    leftSrc: o.kind === 'no-capture-loss' ? null : true,
    arrivedDst: o.kind === 'lost-in-path' ? false : o.kind === 'dropped-at-dst' || ok ? true : null,
    answered: ok,
    replySeen: ok ? true : false,
    rttSeconds: ok ? 0.0004 + (src === dst ? 0 : 0.0001) : null,
    icmp: o.kind === 'mtu' && o.frag ? [`frag-needed mtu=${o.frag} from 10.200.2.254`] : [],
  };
  if (path === 'pmtu') {
    r.pmtu = {
      required: 1500,
      largestPassing: o.kind === 'mtu' ? o.largestPassing : ok ? 1500 : null,
      fragNeededMtu: o.kind === 'mtu' ? o.frag : null,
      learnedPmtu: o.kind === 'mtu' ? o.frag : null,
    };
  }
  return r;
}

/** One heartbeat round of every node (skipping `silent` nodes), under a fault. */
export function round(
  n: number,
  fault: Fault,
  opts: { silent?: string[]; nodes?: string[]; t0?: number } = {},
): ProbesMessage[] {
  const nodes = opts.nodes ?? NODES;
  const at = (opts.t0 ?? T0) + n * ROUND_MS;
  const out: ProbesMessage[] = [];
  for (const src of nodes) {
    if (opts.silent?.includes(src)) continue;
    const results: ProbeResult[] = [];
    for (const dst of nodes) {
      if (dst === src) continue;
      for (const s of SLOTS)
        results.push(probe(src, dst, s.path, s.port, n, at, fault(src, dst, s.path, s.port)));
    }
    const arrivals: ArrivalReport[] = [];
    for (const from of nodes) {
      if (from === src || opts.silent?.includes(from)) continue;
      for (const path of ['vxlan', 'control', 'pmtu', 'overlay'] as ProbePath[]) {
        const o = fault(from, src, path, path === 'control' ? 7999 : 4789);
        if (o.kind === 'ok' || o.kind === 'mtu' || o.kind === 'dropped-at-dst') {
          arrivals.push({ from, path, count: 1, lastAt: at + 3 });
        }
      }
    }
    out.push({
      schemaVersion: 1,
      type: 'probes',
      node: src,
      at: at + 1000,
      id: `${src}-probes-${n}`,
      round: n,
      results,
      arrivals,
    });
  }
  return out;
}

export function finding(
  node: string,
  kind: RootCauseKind,
  check: string = kind,
  severity: Severity = 'critical',
  extra: Partial<Finding> = {},
): Finding {
  return {
    check,
    status: 'problem',
    severity,
    kind,
    incident: null,
    node,
    subject: `host/${check}`,
    summary: `${check} problem on ${node}`,
    evidence: [`${check} evidence line on ${node}`],
    remediation: `fix ${check} on ${node}: apply the documented command for this check`,
    ...extra,
  };
}

export function findingsMsg(node: string, n: number, findings: Finding[]): FindingsMessage {
  return {
    schemaVersion: 1,
    type: 'findings',
    node,
    at: T0 + n * ROUND_MS + 500,
    id: `${node}-findings-${n}`,
    findings,
    checkRuns: [{ check: 'vtep-mtu', ok: true, durationSeconds: 0.001 }],
  };
}

export function presence(node: string, at: number): NodePresence {
  return {
    schemaVersion: 1,
    node,
    labels: { rack: RACK[node] as string },
    version: '0.1.0',
    at,
    underlay: [UNDERLAY[node] as string],
    probePort: 7999,
    vteps: [],
    overlayEndpoints: [],
  };
}

export function snapshotMsg(node: string, n: number): SnapshotMessage {
  return {
    schemaVersion: 1,
    type: 'snapshot',
    node,
    at: T0 + n * ROUND_MS + 200,
    id: `${node}-snapshot-${n}`,
    snapshot: {
      schemaVersion: 1,
      node,
      labels: { rack: RACK[node] as string },
      takenAt: new Date(T0 + n * ROUND_MS).toISOString(),
      durationMs: 12,
      host: { hostname: node, kernel: '6.1.0-18-amd64', os: 'Debian 12', privileged: true, nics: [] },
      namespaces: [],
      chains: [],
      vteps: [
        {
          netns: '1-abc',
          dev: 'vxlan0',
          style: 'docker',
          vni: 256,
          port: 4789,
          mac: `02:42:00:00:00:0${node.slice(1)}`,
          local: null,
          mtu: 1450,
          subnets: ['10.0.1.0/24'],
          fdbDsts: NODES.filter((x) => x !== node).map((x) => UNDERLAY[x] as string),
        },
        {
          netns: 'host',
          dev: 'flannel.1',
          style: 'flannel',
          vni: 1,
          port: 8472,
          mac: `02:00:00:00:00:0${node.slice(1)}`,
          local: UNDERLAY[node] as string,
          mtu: 1450,
          subnets: [`10.244.${node.slice(1)}.0/24`],
          fdbDsts: NODES.filter((x) => x !== node).map((x) => UNDERLAY[x] as string),
        },
      ],
      underlay: { dev: 'eth0', mtu: 1500, addresses: [UNDERLAY[node] as string] },
      firewall: null,
      docker: { present: true, swarm: true, overlayNamespaces: ['1-abc'], gwbridge: true },
      unknowns: [],
    },
  };
}

export const crossRack = (a: string, b: string): boolean => RACK[a] !== RACK[b];
