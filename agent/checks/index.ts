/**
 * The node checks, one per file, listed explicitly (no registration by import side effects).
 * `runChecks` isolates failures: a check that throws is logged and reported as a failed
 * CheckRun; the others go on.
 */
import type { Check, CheckRun, Finding, NodeSnapshot } from '../../shared/schema.js';
import { runIsolated } from '../../shared/check-runner.js';
import type { Logger } from '../../shared/logging.js';
import { chainMtu } from './chain-mtu.js';
import { dockerGwbridge } from './docker-gwbridge.js';
import { fdbDestination } from './fdb-destination.js';
import { firewallOverlayPorts } from './firewall-overlay-ports.js';
import { inventoryUnknowns } from './inventory-unknowns.js';
import { ipForward } from './ip-forward.js';
import { kernelVersion } from './kernel-version.js';
import { overlaySubnetOverlap } from './overlay-subnet-overlap.js';
import { rpFilter } from './rp-filter.js';
import { udpOffload } from './udp-offload.js';
import { vtepLocalAddress } from './vtep-local-address.js';
import { vtepNeighborFdb } from './vtep-neighbor-fdb.js';
import { vtepState } from './vtep-state.js';
import { vtepUnderlayMtu } from './vtep-underlay-mtu.js';

export const CHECKS: Check[] = [
  vtepUnderlayMtu,
  chainMtu,
  vtepState,
  vtepLocalAddress,
  fdbDestination,
  vtepNeighborFdb,
  dockerGwbridge,
  kernelVersion,
  udpOffload,
  firewallOverlayPorts,
  overlaySubnetOverlap,
  rpFilter,
  ipForward,
  inventoryUnknowns,
];

export interface RunChecksOptions {
  /** Per-check options, `checks.<id>.*`. */
  options?: Record<string, Record<string, unknown>>;
  log?: Logger;
  checks?: Check[];
}

export function runChecks(
  s: NodeSnapshot,
  o: RunChecksOptions = {},
): { findings: Finding[]; checkRuns: CheckRun[] } {
  return runIsolated(o.checks ?? CHECKS, (c, options) => c.run(s, { options }), o);
}
