import type { OverlayChain, PairView, RootCause } from '../../../shared/schema.js';
export function sortRootCauses(rcs: RootCause[]): RootCause[];
export function placeText(rc: RootCause): string;
export function lossClass(loss: number | null | undefined): 'none' | 'ok' | 'part' | 'bad';
export function lossColor(
  loss: number | null | undefined,
  pal: Record<'ok' | 'part' | 'bad' | 'none', string>,
): string;
export function failingNow(p: Pick<PairView, 'last'> | undefined): boolean;
export function pairLoss(
  p: (Partial<Pick<PairView, 'last'>> & { loss: number | null }) | undefined,
): number | null;
export function fateText(p: PairView | undefined, windowSeconds?: number): string;
export function groupNodes(
  nodes: Array<{ name: string; labels: Record<string, string> }>,
  label: string,
): Array<{ group: string; nodes: string[] }>;
export function aggregateLoss(
  lookup: Map<string, Partial<Pick<PairView, 'last'>> & { loss: number | null }>,
  srcs: string[],
  dsts: string[],
): number | null;
export type Slot =
  | { kind: 'node'; name: string; group: string }
  | { kind: 'group'; group: string; nodes: string[] };
export function layout(groups: Array<{ group: string; nodes: string[] }>, collapsed: Set<string>): Slot[];
export const VXLAN_OVERHEAD: { ipv4: number; ipv6: number };
export type MarkedHop = OverlayChain['hops'][number] & {
  role: 'hop' | 'vtep' | 'underlay';
  mismatch: boolean;
  /** Why the hop is marked ('' when it is not). */
  note: string;
  /** Underlay source address, on the underlay hop. */
  address: string | null;
};
export function chainMtuMarks(chain: OverlayChain): {
  /** The chain's hops, the underlay NIC once as the last one (role 'underlay'). */
  hops: MarkedHop[];
  underlay: { dev: string; mtu: number; address: string | null; mismatch: boolean } | null;
  vtepMtu: number | null;
  /** Smallest underlay MTU that carries the VTEP's frames (VTEP MTU + overhead). */
  need: number | null;
};
export function ago(iso: string, now?: number): string;
