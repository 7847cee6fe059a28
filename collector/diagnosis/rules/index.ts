/**
 * The rules, in the order they run: what explains more goes first, so the failures it causes
 * are its evidence and not raised again (engine.ts). Adding a rule: a file here exporting
 * `{id, kinds, run(ctx)}`, its place in this list, its kind in ../kinds.ts, its unit test.
 */
import type { Rule } from '../engine.js';
import { agentDown } from './agent-down.js';
import { controlPortsBlocked } from './control-ports-blocked.js';
import { findingsRule } from './findings.js';
import { inventoryIncomplete } from './inventory-incomplete.js';
import { nodeUnreachable } from './node-unreachable.js';
import { underlayLoss } from './underlay-loss.js';
import { underlayMtu } from './underlay-mtu.js';
import { vxlanFilteredNode } from './vxlan-filtered-node.js';
import { vxlanFilteredSegment } from './vxlan-filtered-segment.js';

export const RULES: readonly Rule[] = [
  agentDown,
  nodeUnreachable,
  findingsRule,
  inventoryIncomplete,
  vxlanFilteredSegment,
  controlPortsBlocked,
  vxlanFilteredNode,
  underlayLoss,
  underlayMtu,
];
