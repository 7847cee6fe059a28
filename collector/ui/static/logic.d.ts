import type { OverlayChain, PairView, RootCause } from '../../../shared/schema.js';
export function sortRootCauses(rcs: RootCause[]): RootCause[];
export function placeText(rc: RootCause): string;
export function lossClass(loss: number | null | undefined): 'none' | 'ok' | 'part' | 'bad';
export function lossColor(
  loss: number | null | undefined,
  pal: Record<'ok' | 'part' | 'bad' | 'none', string>,
): string;
export function fateText(p: PairView | undefined): string;
export function groupNodes(
  nodes: Array<{ name: string; labels: Record<string, string> }>,
  label: string,
): Array<{ group: string; nodes: string[] }>;
export function aggregateLoss(
  lookup: Map<string, { loss: number | null }>,
  srcs: string[],
  dsts: string[],
): number | null;
export type Slot =
  | { kind: 'node'; name: string; group: string }
  | { kind: 'group'; group: string; nodes: string[] };
export function layout(groups: Array<{ group: string; nodes: string[] }>, collapsed: Set<string>): Slot[];
export function chainMtuMarks(chain: OverlayChain): {
  hops: Array<OverlayChain['hops'][number] & { mismatch: boolean }>;
  underlay: (NonNullable<OverlayChain['underlay']> & { mismatch: boolean }) | null;
};
export function ago(iso: string, now?: number): string;
