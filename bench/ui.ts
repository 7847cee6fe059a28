/**
 * Web page render bench: a synthetic 500-node state (10 racks of 50, rack r0 <-> r1 VXLAN
 * filtered) fed through the collector's ingest into the real app, rendered in headless
 * Chromium. Prints JSON: time to first full render (performance marks in the page), for the
 * default group x group view, a drill-in to one rack pair, and the forced 500 x 500 matrix;
 * the history views (outage timeline over a week of 300 outages, segment grid and chart over
 * 24 h of 10 s samples) and what one segment sample costs the collector.
 */
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import { Registry } from 'prom-client';
import { buildApp } from '../collector/app.js';
import { Diagnoser } from '../collector/diagnosis/index.js';
import { fold, type HistoryEvent, query, transitions } from '../collector/history/events.js';
import { SegmentRing, segmentSamples } from '../collector/history/segments.js';
import { validateMessage } from '../collector/ingest/index.js';
import { ClusterState } from '../collector/state/index.js';
import { silentLogger } from '../shared/logging.js';
import type { NodePresence, ProbePath, ProbeResult, ProbesMessage } from '../shared/schema.js';

const N = Number(process.env.UI_BENCH_NODES ?? 500);
const RACKS = 10;
const T0 = Date.parse('2026-11-22T12:00:00.000Z');
const names = Array.from({ length: N }, (_, i) => `n${String(i).padStart(3, '0')}`);
const rack = (i: number) => `r${i % RACKS}`;
const addr = (i: number) => `10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

const state = new ClusterState({ clock: () => T0 + 7000, presenceTtlMs: 60_000, maxPairs: N * N * 2 });
const diagnoser = new Diagnoser();
const tIngest = performance.now();
let rejected = 0;
for (let i = 0; i < N; i++) {
  const p: NodePresence = {
    schemaVersion: 1,
    node: names[i] as string,
    labels: { rack: rack(i) },
    version: '0.1.0',
    at: T0,
    underlay: [addr(i)],
    probePort: 7999,
    vteps: [],
    overlayEndpoints: [],
  };
  state.applyPresence(p);
}
for (let i = 0; i < N; i++) {
  const results: ProbeResult[] = [];
  for (let j = 0; j < N; j++) {
    if (i === j) continue;
    for (const path of ['vxlan', 'control'] as ProbePath[]) {
      const lost = path === 'vxlan' && [rack(i), rack(j)].sort().join() === 'r0,r1';
      results.push({
        path,
        src: names[i] as string,
        dst: names[j] as string,
        target: addr(j),
        port: path === 'vxlan' ? 4789 : 7999,
        round: 0,
        at: T0 + 5000,
        sent: true,
        leftSrc: true,
        arrivedDst: !lost,
        answered: !lost,
        replySeen: !lost,
        rttSeconds: lost ? null : 0.0004,
        icmp: [],
      });
    }
  }
  const m: ProbesMessage = {
    schemaVersion: 1,
    type: 'probes',
    node: names[i] as string,
    at: T0 + 6000,
    id: `${names[i]}-probes-0`,
    round: 0,
    results,
    arrivals: [],
  };
  const r = validateMessage(`vxdoctor.v1.${names[i]}.probes`, new TextEncoder().encode(JSON.stringify(m)));
  if (r.ok) state.apply(r.msg);
  else rejected++;
}
state.tick();
diagnoser.evaluate(state.diagnosisInput());
const ingestMs = performance.now() - tIngest;

// History: one segment sample (as the collector takes every 10 s), 24 h of them in the ring,
// and a week of outages (30 root causes, 10 outages each) folded from their events.
const NOW = T0 + 7000;
// As the collector does: RTTs from the pair statuses its last evaluation built.
const statuses = state.pairStatuses();
const tSample = performance.now();
const rtts = [];
for (const p of statuses)
  if (p.path === 'vxlan') rtts.push({ src: p.src, dst: p.dst, rttSeconds: p.last.rttSeconds });
const tGroups = performance.now();
const groupLoss = state.groupPairs('vxlan');
const segmentGroupPairsMs = performance.now() - tGroups;
const sample = segmentSamples(groupLoss, rtts, (n) => state.groupOf(n));
const segmentSampleMs = performance.now() - tSample;
const segments = new SegmentRing();
for (let t = NOW - 86_400_000; t <= NOW; t += 10_000) segments.sample(t, sample);
const events: HistoryEvent[] = [];
for (let k = 0; k < 10; k++) {
  for (let c = 0; c < 30; c++) {
    const start = NOW - 7 * 86_400_000 + k * 60_480_000 + c * 600_000;
    const rc = {
      id: `underlay-vxlan-filtered:rack:r${c % RACKS}:r${(c + 1) % RACKS}:${c}`,
      kind: 'underlay-vxlan-filtered' as const,
      severity: c % 3 ? ('warning' as const) : ('critical' as const),
      nodes: names.slice(c, c + 5),
      segment: { label: 'rack', from: `r${c % RACKS}`, to: `r${(c + 1) % RACKS}` },
      summary: `VXLAN dropped between r${c % RACKS} and r${(c + 1) % RACKS}`,
      evidence: ['left, never arrived'],
      remediation: 'allow udp/4789',
      since: new Date(start).toISOString(),
    };
    const up = transitions(new Map(), [rc], rc.since, 'bench');
    events.push(
      ...up.events,
      ...transitions(up.open, [], new Date(start + 1_800_000).toISOString(), 'bench').events,
    );
  }
}

const app = await buildApp({
  state,
  registry: new Registry(),
  log: silentLogger(),
  natsConnected: () => true,
  diagnosis: () => diagnoser.current(),
  history: {
    query: (f, now) => query(fold(events, now), f),
    ready: () => true,
    segments,
    groupLabel: 'rack',
    clock: () => NOW,
  },
});
await app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const firstRender = async (url: string) => {
    await page.goto(url);
    await page.waitForSelector('body[data-rendered="1"]', { timeout: 120_000 });
    return page.evaluate(() =>
      Math.round(performance.getEntriesByName('vx-first-render')[0]?.startTime ?? -1),
    );
  };
  const aggregateMs = await firstRender(`${base}/`);
  await page.waitForSelector('body[data-history]', { timeout: 120_000 });
  const historyMs = await page.evaluate(() =>
    Math.round(performance.getEntriesByName('vx-history-render')[0]?.startTime ?? -1),
  );
  const timelineRows = await page.evaluate(() => document.querySelectorAll('#outage-list li').length);
  await page.screenshot({ path: 'test-output/ui/bench-500-history.png', fullPage: true });
  const rootCauses = await page.locator('article.rc').count();
  await page.screenshot({ path: 'test-output/ui/bench-500-groups.png', fullPage: true });
  // drill into rack r0 x r1 (second column of the first row) by keyboard
  const gen = await page.evaluate(() => Number(document.body.dataset.generation));
  await page.focus('#matrix');
  await page.keyboard.press('ArrowRight');
  const t = Date.now();
  await page.keyboard.press('Enter');
  await page.waitForFunction((g) => Number(document.body.dataset.generation) > g, gen, { timeout: 60_000 });
  const drillMs = Date.now() - t;
  const fullMs = await firstRender(`${base}/?aggregate=off`);
  await page.screenshot({ path: 'test-output/ui/bench-500-full.png' });
  console.log(
    JSON.stringify({
      bench: 'ui',
      nodes: N,
      pairsPerPath: N * (N - 1),
      ingestMs: Math.round(ingestMs),
      rejected,
      rootCauses,
      firstRenderGroupViewMs: aggregateMs,
      firstRenderHistoryMs: historyMs,
      historyOutagesListed: timelineRows,
      segmentSampleMs: Math.round(segmentSampleMs),
      segmentSampleGroupPairsMs: Math.round(segmentGroupPairsMs),
      drillInMs: drillMs,
      firstRenderFullMatrixMs: fullMs,
    }),
  );
} finally {
  await browser.close();
  await app.close();
}
