/**
 * The agent's message builders, plain functions (bench/ simulators publish exactly what an
 * agent does by calling these). Sizes: the summary is O(this node's namespaces, chains and
 * VTEPs), the presence record O(its VTEPs), findings O(its findings); none carries another
 * node's tables, so nothing here grows with the cluster except the probes message, which is
 * O(the probe set).
 */
import { randomUUID } from 'node:crypto';
import type {
  ArrivalReport,
  CheckRun,
  Finding,
  FindingsMessage,
  NodePresence,
  NodeSnapshot,
  ProbeResult,
  ProbesMessage,
  SummaryMessage,
} from '../../shared/schema.js';
import { SCHEMA_VERSION } from '../../shared/schema.js';
import { summarize } from '../../shared/summary.js';

/** What the presence schema accepts as a subnet (shared/validation.ts `Cidr`). */
const CIDR_RE = /^[0-9A-Fa-f:.]{2,45}\/[0-9]{1,3}$/;

export interface Envelope {
  node: string;
  /** Send time, epoch ms (default now). */
  at?: number;
  /** Message id = Nats-Msg-Id (default a random UUID). */
  id?: string;
}

function base(e: Envelope) {
  return { schemaVersion: SCHEMA_VERSION, node: e.node, at: e.at ?? Date.now(), id: e.id ?? randomUUID() };
}

/** `vxdoctor.v1.<node>.summary`: the inventory as counts and digests (shared/summary.ts). */
export function summaryMessage(e: Envelope, snapshot: NodeSnapshot): SummaryMessage {
  return { ...base(e), type: 'summary', summary: summarize(snapshot) };
}

export function findingsMessage(e: Envelope, findings: Finding[], checkRuns: CheckRun[]): FindingsMessage {
  return { ...base(e), type: 'findings', findings, checkRuns };
}

export function probesMessage(
  e: Envelope,
  round: number,
  results: ProbeResult[],
  arrivals: ArrivalReport[],
): ProbesMessage {
  return { ...base(e), type: 'probes', round, results, arrivals };
}

/**
 * This node's presence record: its identities (underlay addresses, every VTEP's address, MAC,
 * VNI, port, style, overlay, MTU and subnets), which is all its peers need for probing and for
 * their cross-node checks (shared/crosschecks/local.ts).
 */
export function presenceRecord(
  o: { node: string; labels: Record<string, string>; version: string; at?: number },
  snapshot: NodeSnapshot,
  extras: Pick<NodePresence, 'probePort' | 'overlayEndpoints'>,
): NodePresence {
  return {
    schemaVersion: SCHEMA_VERSION,
    node: o.node,
    labels: o.labels,
    version: o.version,
    at: o.at ?? Date.now(),
    underlay: (snapshot.underlay?.addresses ?? []).map((a) => a.split('/')[0] as string),
    probePort: extras.probePort,
    vteps: snapshot.vteps.slice(0, 256).map((v) => ({
      style: v.style,
      vni: v.vni,
      port: v.port,
      mac: v.mac,
      local: v.local,
      dev: v.dev,
      ...(v.overlay ? { overlay: v.overlay } : {}),
      // What the overlay carries, so peers size their full-size probe to this port by it.
      overlayMtu: v.overlayMtu ?? v.mtu,
      subnets: v.subnets.filter((c) => CIDR_RE.test(c)).slice(0, 64),
    })),
    overlayEndpoints: extras.overlayEndpoints,
  };
}
