import type { Outage } from '../../history/events.js';
import type { SegmentSeries } from '../../history/segments.js';

export interface TimelineBar {
  x0: number;
  x1: number;
  outage: Outage;
}
export interface TimelineRow {
  id: string;
  kind: string;
  place: string;
  severity: string;
  bars: TimelineBar[];
}
export function timelineRows(outages: Outage[], from: number, to: number, now: number): TimelineRow[];
export function barAt(rows: TimelineRow[], row: number, t: number, slackMs: number): TimelineBar | null;
export function durationText(seconds: number): string;
export function ordinal(n: number): string;
export function nthThisWeek(outages: Outage[], id: string, now: number): string | null;
export function segmentGrid(segments: SegmentSeries[]): {
  groups: string[];
  cell(a: string, b: string): { loss: number | null; rttMs: number | null } | null;
};
export function defaultSegment(grid: ReturnType<typeof segmentGrid>): [string, string] | null;
