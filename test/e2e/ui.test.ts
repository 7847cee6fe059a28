/**
 * The web page in headless Chromium against the real collector app (buildApp), state fed
 * through the collector's own ingest path (validateMessage -> ClusterState.apply) with synthetic
 * agent messages: healthy cluster, then rack A <-> B VXLAN filtered. Screenshots: test-output/ui/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { Registry } from 'prom-client';
import { buildApp } from '../../collector/app.js';
import { Diagnoser } from '../../collector/diagnosis/index.js';
import { validateMessage } from '../../collector/ingest/index.js';
import { ClusterState } from '../../collector/state/index.js';
import { silentLogger } from '../../shared/logging.js';
import type { OverlayChain, SnapshotMessage } from '../../shared/schema.js';
import {
  crossRack,
  type Fault,
  healthy,
  NODES,
  presence,
  ROUND_MS,
  round,
  snapshotMsg,
  T0,
} from '../unit/collector/synth.js';

const OUT = 'test-output/ui';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function chain(node: string): OverlayChain {
  return {
    id: `docker:1-abc/vxlan0@${node}`,
    style: 'docker',
    hops: [
      { netns: 'c1', dev: 'eth0', kind: 'veth', mtu: 1450, operstate: 'up' },
      { netns: '1-abc', dev: 'veth0', kind: 'veth', mtu: 1450, operstate: 'up' },
      { netns: '1-abc', dev: 'br0', kind: 'bridge', mtu: 1450, operstate: 'up' },
      { netns: '1-abc', dev: 'vxlan0', kind: 'vxlan', mtu: 1450, operstate: 'up' },
    ],
    vtep: { netns: '1-abc', dev: 'vxlan0', vni: 4097, port: 4789 },
    underlay: { dev: 'eth0', mtu: node === 'n3' ? 1400 : 1500, address: '10.200.2.13' },
  };
}

/** A collector app whose state came through ingest; returns its base URL. */
async function collector(fault: Fault, rounds = 3, nodes: string[] = NODES) {
  let now = T0 + rounds * ROUND_MS + 1000;
  const state = new ClusterState({ clock: () => now, presenceTtlMs: 60_000 });
  const diagnoser = new Diagnoser();
  const feed = (subject: string, m: unknown) => {
    const r = validateMessage(subject, new TextEncoder().encode(JSON.stringify(m)));
    assert.ok(r.ok, `ingest rejected ${subject}`);
    state.apply(r.msg);
  };
  const feedRounds = (f: Fault, from: number, to: number) => {
    for (let n = from; n < to; n++) {
      for (const node of nodes) {
        state.applyPresence(presence(node, T0 + n * ROUND_MS));
        const s: SnapshotMessage = snapshotMsg(node, n);
        s.snapshot.chains = [chain(node)];
        feed(`vxdoctor.v1.${node}.snapshot`, s);
      }
      for (const m of round(n, f, { nodes })) feed(`vxdoctor.v1.${m.node}.probes`, m);
      now = T0 + n * ROUND_MS + 1000 + ROUND_MS;
      state.tick();
      diagnoser.evaluate(state.diagnosisInput());
    }
  };
  feedRounds(fault, 0, rounds);
  let connected = true;
  const app = await buildApp({
    state,
    registry: new Registry(),
    log: silentLogger(),
    natsConnected: () => connected,
    diagnosis: () => diagnoser.current(),
    eventsPollMs: 50,
    eventsIntervalMs: 200,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return { app, base, setConnected: (v: boolean) => (connected = v), feedRounds };
}

/** Opens the page, recording every request URL; asserts all stay on the collector's origin. */
export async function open(browser: Browser, base: string, name: string) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const urls: string[] = [];
  page.on('request', (r) => urls.push(r.url()));
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/`);
  await page.waitForSelector('body[data-rendered="1"]', { timeout: 10_000 });
  const check = () => {
    assert.deepEqual(errors, [], `page errors in ${name}`);
    const foreign = urls.filter((u) => new URL(u).origin !== base);
    assert.deepEqual(foreign, [], 'requests outside the collector origin');
    assert.ok(urls.some((u) => u.endsWith('/api/v1/diagnosis')));
  };
  return { page, check };
}

/** Colour of the matrix cell for (src, dst) read from the canvas via the hover tooltip + pixel. */
export async function cell(page: Page, src: string, dst: string) {
  return page.evaluate(
    ([s, d]) => {
      const cv = document.getElementById('matrix') as HTMLCanvasElement;
      const rows = [...document.querySelectorAll('#node-list button.node')].map(
        (b) => (b as HTMLElement).dataset.node,
      );
      // rows in the matrix are the nodes grouped by rack (n1,n2 | n3,n4) = sorted here.
      rows.sort();
      const i = rows.indexOf(s);
      const j = rows.indexOf(d);
      const r = cv.getBoundingClientRect();
      // geometry: find the cell by hovering: dispatch mousemove until the tooltip names the pair.
      for (let y = 0; y < r.height; y += 4)
        for (let x = 0; x < r.width; x += 4) {
          cv.dispatchEvent(
            new MouseEvent('mousemove', { clientX: r.left + x, clientY: r.top + y, bubbles: true }),
          );
          const t = document.getElementById('tip')?.textContent ?? '';
          if (!document.getElementById('tip')?.hidden && t.startsWith(`${s} → ${d}`)) {
            const px = cv
              .getContext('2d')
              ?.getImageData((x + 1) * devicePixelRatio, (y + 1) * devicePixelRatio, 1, 1).data;
            return { text: t, rgb: px ? [px[0], px[1], px[2]] : null, i, j };
          }
        }
      return { text: '', rgb: null, i, j };
    },
    [src, dst] as const,
  );
}

export async function cssColor(page: Page, name: string): Promise<number[]> {
  return page.evaluate((n) => {
    const c = document.createElement('canvas').getContext('2d') as CanvasRenderingContext2D;
    c.fillStyle = getComputedStyle(document.documentElement).getPropertyValue(n).trim();
    c.fillRect(0, 0, 1, 1);
    const d = c.getImageData(0, 0, 1, 1).data;
    return [d[0] ?? 0, d[1] ?? 0, d[2] ?? 0];
  }, name);
}

/**
 * Page assertions for "the underlay between two groups drops VXLAN", reusable against a
 * collector on the real lab: root cause with segment and fix, the cross-group cell failed and
 * the same-group cell passing on the VXLAN view.
 */
export async function assertVxlanFiltered(
  page: Page,
  o: { cross: [string, string]; same: [string, string]; from?: string; to?: string },
) {
  const rc = page.locator('article.rc').first();
  await rc.waitFor();
  const rcText = (await rc.textContent()) ?? '';
  assert.match(rcText, /underlay-vxlan-filtered/);
  assert.ok(rcText.includes(`rack ${o.from ?? 'A'} ↔ rack ${o.to ?? 'B'}`), rcText);
  assert.ok(((await rc.locator('pre.fix').textContent()) ?? '').length > 10, 'fix shown');
  assert.equal(await page.locator('#all-healthy').count(), 0);
  const bad = await cssColor(page, '--bad');
  const ok = await cssColor(page, '--ok');
  const cross = await cell(page, o.cross[0], o.cross[1]);
  assert.deepEqual(cross.rgb, bad, cross.text);
  assert.match(cross.text, new RegExp(`([5-9]\\d|100)% loss.*left ${o.cross[0]}`));
  const same = await cell(page, o.same[0], o.same[1]);
  assert.deepEqual(same.rgb, ok, same.text);
}

describe('web page against the collector app', () => {
  let browser: Browser;
  before(async () => {
    mkdirSync(OUT, { recursive: true });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
  });

  it('healthy cluster: all healthy, every cell passes, no foreign requests', async () => {
    const c = await collector(healthy);
    try {
      const { page, check } = await open(browser, c.base, 'healthy');
      await page.waitForSelector('#all-healthy');
      assert.match((await page.textContent('#all-healthy')) ?? '', /All healthy.*4 nodes/);
      const ok = await cssColor(page, '--ok');
      const x = await cell(page, 'n1', 'n3');
      assert.match(x.text, /n1 → n3 \[vxlan\]: 0% loss/);
      assert.deepEqual(x.rgb, ok);
      assert.equal(await page.isHidden('#banner'), true);
      await page.screenshot({ path: `${OUT}/healthy.png`, fullPage: true });
      // the underlay starts dropping VXLAN between the racks: the page follows without reload
      c.feedRounds(
        (a, b, p) => (crossRack(a, b) && p === 'vxlan' ? { kind: 'lost-in-path' } : { kind: 'ok' }),
        3,
        9,
      );
      await page.waitForSelector('article.rc', { timeout: 10_000 });
      assert.equal(await page.locator('#all-healthy').count(), 0);
      assert.match((await page.textContent('article.rc')) ?? '', /rack A ↔ rack B/);
      check();
      await page.close();
    } finally {
      await c.app.close();
    }
  });

  it('rack A <-> B VXLAN filtered: root cause with fix, cross-rack cells fail, same-rack pass; node detail chain MTUs; NATS banner', async () => {
    const fault: Fault = (a, b, p) =>
      crossRack(a, b) && p === 'vxlan' ? { kind: 'lost-in-path' } : { kind: 'ok' };
    const c = await collector(fault);
    try {
      const { page, check } = await open(browser, c.base, 'filtered');
      await assertVxlanFiltered(page, { cross: ['n1', 'n3'], same: ['n1', 'n2'] });
      const ok = await cssColor(page, '--ok');
      await page.screenshot({ path: `${OUT}/vxlan-filtered.png`, fullPage: true });
      // control path view: cross-rack passes there
      await page.click('[role=tab][data-path=control]');
      await page.waitForFunction(
        () => document.querySelector('[data-path=control]')?.getAttribute('aria-selected') === 'true',
      );
      await page.waitForFunction(() =>
        (document.getElementById('matrix') as HTMLCanvasElement)
          .getAttribute('aria-label')
          ?.includes('control'),
      );
      assert.deepEqual((await cell(page, 'n1', 'n3')).rgb, ok);
      // keyboard: focus the canvas, arrows move, the tooltip/aria text follows, Enter opens the node
      await page.click('[role=tab][data-path=vxlan]');
      await page.waitForFunction(() =>
        (document.getElementById('matrix') as HTMLCanvasElement)
          .getAttribute('aria-label')
          ?.includes('vxlan'),
      );
      await page.focus('#matrix');
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      assert.match((await page.textContent('#cell-info')) ?? '', /^n1 → n3 \[vxlan\]: 100% loss/);
      assert.equal(await page.isVisible('#tip'), true);
      await page.keyboard.press('Enter');
      await page.waitForSelector('#detail:not([hidden]) .chain');
      const detail = (await page.textContent('#detail')) ?? '';
      assert.match(detail, /Node n1/);
      assert.match(detail, /rack=A/);
      assert.match(detail, /agent 0\.1\.0/);
      assert.match(
        detail,
        /eth0 MTU 1450.*veth0 MTU 1450.*br0 MTU 1450.*vxlan0 MTU 1450.*eth0 \(underlay.*MTU 1500/s,
      );
      await page.screenshot({ path: `${OUT}/node-detail.png`, fullPage: true });
      // n3's underlay MTU 1400 < 1450 + 50 is marked
      await page.click('button.node[data-node=n3]');
      await page.waitForFunction(() => document.getElementById('detail-h')?.textContent === 'Node n3');
      assert.match((await page.locator('.chain .hop.mismatch').textContent()) ?? '', /MTU 1400 too small/);
      // NATS lost => banner, live via server-sent events, without reload
      c.setConnected(false);
      await page.waitForSelector('#banner:not([hidden])', { timeout: 5000 });
      assert.match((await page.textContent('#banner')) ?? '', /NATS/);
      await page.screenshot({ path: `${OUT}/nats-down.png` });
      c.setConnected(true);
      await page.waitForSelector('#banner[hidden]', { state: 'attached', timeout: 5000 });
      check();
      // collector gone => banner says unreachable
      await c.app.close();
      await page.waitForFunction(
        () => /unreachable/.test(document.getElementById('banner')?.textContent ?? ''),
        null,
        { timeout: 10_000 },
      );
      await page.close();
    } finally {
      await c.app.close();
    }
  });

  it('dark colour scheme and a one-node cluster render', async () => {
    const c = await collector(healthy, 2, ['n1']);
    try {
      const page = await browser.newPage({ colorScheme: 'dark', viewport: { width: 1000, height: 800 } });
      await page.goto(`${c.base}/`);
      await page.waitForSelector('body[data-rendered="1"]');
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.equal(bg, 'rgb(13, 17, 23)');
      assert.match((await page.textContent('#all-healthy')) ?? '', /All healthy.*\b1 node\)/);
      assert.equal(await page.locator('button.node').count(), 1);
      await page.screenshot({ path: `${OUT}/dark.png`, fullPage: true });
      await page.close();
    } finally {
      await c.app.close();
    }
  });
});
