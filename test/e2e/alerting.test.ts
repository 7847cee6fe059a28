/**
 * Alerting end to end with the shipped configuration: the lab with its 4 agents, TWO collector
 * replicas (each with its own durable, as in Kubernetes), the real Prometheus scraping both with
 * deploy/prometheus/vxdoctor-rules.yml, the real Alertmanager with
 * deploy/alertmanager/alertmanager.yml (only the receivers' URLs pointed at this test).
 *  - tor-drop-vxlan (a segment fault between racks A and B): exactly ONE notification for
 *    VxdoctorUnderlayVxlanFiltered, one alert in it, naming rack A and rack B, linking its
 *    runbook (a file in the repository) and the root cause on the collector page.
 *  - inhibitions (alerts posted to the same Alertmanager): a node-unreachable alert silences
 *    per-node alerts of its node only; a segment alert silences the same segment only.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import type { DiagnosisResponse } from '../../shared/schema.js';
import { labAllowed, labId } from '../lab/lab.js';
import { chromium } from 'playwright-core';
import { freePort, type LabAgents, OUTPUT, ROOT, sleep, startLabAgents, waitFor } from './harness.js';

interface Notification {
  at: number;
  receiver: string;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
}

const run = labAllowed();

describe('alerting: two collector replicas, real Prometheus and Alertmanager, shipped rules and routes', {
  skip: run ? false : 'needs root (network namespaces)',
}, () => {
  let env: LabAgents | null = null;
  const procs: ChildProcess[] = [];
  const notifications: Notification[] = [];
  let hook: Server | null = null;
  const dir = mkdtempSync(join(tmpdir(), 'vxd-alerting-'));
  let amUrl = '';
  let promUrl = '';
  const collectors: string[] = [];
  let pageUrl = '';

  const spawnLogged = (name: string, cmd: string, args: string[]): ChildProcess => {
    mkdirSync(OUTPUT, { recursive: true });
    const log = createWriteStream(join(OUTPUT, `alerting-${name}.log`));
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout?.pipe(log);
    p.stderr?.pipe(log);
    procs.push(p);
    return p;
  };

  before(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        try {
          const m = JSON.parse(body) as { receiver: string; alerts: Notification['alerts'] };
          notifications.push({ at: Date.now(), receiver: m.receiver, alerts: m.alerts });
        } catch {
          /* not Alertmanager's JSON: the assertions on notifications fail */
        }
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook?.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}`;

    // The shipped Alertmanager configuration; only where notifications go is changed.
    const am = parse(readFileSync(join(ROOT, 'deploy/alertmanager/alertmanager.yml'), 'utf8'));
    for (const r of am.receivers as { name: string; webhook_configs?: { url: string }[] }[])
      for (const w of r.webhook_configs ?? []) w.url = `${hookUrl}/${r.name}`;
    writeFileSync(join(dir, 'alertmanager.yml'), stringify(am));
    const amPort = await freePort();
    amUrl = `http://127.0.0.1:${amPort}`;
    spawnLogged('alertmanager', 'prometheus-alertmanager', [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'am')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=',
    ]);

    env = await startLabAgents({ id: labId('vxm'), name: 'alerting' });
    const ports = [await freePort(), await freePort()];
    // Both replicas are reached through one address in Kubernetes (the Service); here the
    // first replica's address stands for it, and both get it as --page-url, as they would.
    pageUrl = `http://127.0.0.1:${ports[0]}/`;
    ports.forEach((port, i) => {
      collectors.push(`http://127.0.0.1:${port}`);
      spawnLogged(`collector-${i + 1}`, process.execPath, [
        join(ROOT, 'bin/vxdoctor.js'),
        'collector',
        '--nats',
        env?.nats.url as string,
        '--listen',
        `127.0.0.1:${port}`,
        '--durable',
        `vxdoctor-collector-${i + 1}`,
        '--presence-ttl',
        '12s',
        '--page-url',
        pageUrl,
      ]);
    });
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '2s', evaluation_interval: '2s' },
        rule_files: [join(ROOT, 'deploy/prometheus/vxdoctor-rules.yml')],
        alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
        scrape_configs: [
          {
            job_name: 'vxdoctor-collector',
            static_configs: [{ targets: ports.map((p) => `127.0.0.1:${p}`) }],
          },
        ],
      }),
    );
    spawnLogged('prometheus', 'prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'prom')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--rules.alert.resend-delay=2s',
    ]);
    for (const u of [`${amUrl}/-/ready`, `${promUrl}/-/ready`, ...collectors.map((c) => `${c}/readyz`)])
      await waitFor(u, async () => (await fetch(u)).ok, 60_000, 250);
  });

  after(async () => {
    for (const p of procs.splice(0)) {
      if (p.pid && p.exitCode === null && p.signalCode === null) {
        p.kill('SIGTERM');
        await new Promise<void>((r) => {
          const t = setTimeout(() => {
            p.kill('SIGKILL');
            r();
          }, 5000);
          p.once('exit', () => {
            clearTimeout(t);
            r();
          });
        });
      }
    }
    await env?.teardown();
    hook?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('inhibitions silence only what the source explains: the same node, the same segment', async () => {
    const now = new Date().toISOString();
    const alert = (alertname: string, labels: Record<string, string>) => ({
      labels: { alertname, severity: 'critical', ...labels },
      annotations: { summary: alertname },
      startsAt: now,
    });
    const seg = (from: string, to: string) => ({ scope: 'segment', group_label: 'rack', from, to });
    const posted = [
      alert('VxdoctorNodeUnreachable', {
        scope: 'node',
        node: 'ip-10-0-1-9.ec2.internal',
        kind: 'node-unreachable',
      }),
      alert('VxdoctorVtepDown', { scope: 'node', node: 'ip-10-0-1-9.ec2.internal', kind: 'vtep-down' }),
      alert('VxdoctorVtepDown', { scope: 'node', node: 'ip-10-0-1-5.ec2.internal', kind: 'vtep-down' }),
      alert('VxdoctorUnderlayVxlanFiltered', { ...seg('X', 'Y'), kind: 'underlay-vxlan-filtered' }),
      alert('VxdoctorUnderlayMtu', { ...seg('X', 'Y'), kind: 'underlay-mtu' }),
      alert('VxdoctorUnderlayMtu', { ...seg('X', 'Z'), kind: 'underlay-mtu' }),
    ];
    const r = await fetch(`${amUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(posted),
    });
    assert.equal(r.status, 200);
    type AmAlert = { labels: Record<string, string>; status: { inhibitedBy: string[] } };
    const state = (await waitFor(
      'Alertmanager to evaluate the inhibitions',
      async () => {
        const got = (await (
          await fetch(`${amUrl}/api/v2/alerts?active=true&inhibited=true`)
        ).json()) as AmAlert[];
        const mine = got.filter((a) => a.labels.from !== 'A' && a.labels.to !== 'B');
        return mine.length >= posted.length && mine.some((a) => a.status.inhibitedBy.length > 0)
          ? mine
          : null;
      },
      20_000,
      250,
    )) as AmAlert[];
    const inhibited = (name: string, l: Record<string, string>) => {
      const a = state.find(
        (x) => x.labels.alertname === name && Object.entries(l).every(([k, v]) => x.labels[k] === v),
      );
      assert.ok(a, `${name} ${JSON.stringify(l)} in Alertmanager`);
      return a.status.inhibitedBy.length > 0;
    };
    assert.equal(inhibited('VxdoctorVtepDown', { node: 'ip-10-0-1-9.ec2.internal' }), true, 'same node');
    assert.equal(inhibited('VxdoctorVtepDown', { node: 'ip-10-0-1-5.ec2.internal' }), false, 'other node');
    assert.equal(inhibited('VxdoctorNodeUnreachable', {}), false);
    assert.equal(inhibited('VxdoctorUnderlayMtu', { from: 'X', to: 'Y' }), true, 'same segment');
    assert.equal(inhibited('VxdoctorUnderlayMtu', { from: 'X', to: 'Z' }), false, 'other segment');
    assert.equal(inhibited('VxdoctorUnderlayVxlanFiltered', {}), false);
  });

  it('tor-drop-vxlan with two collector replicas: exactly one notification naming both racks and the runbook', async () => {
    const lab = env?.lab;
    assert.ok(lab);
    // Healthy first: both replicas see the 4 nodes and no underlay root cause.
    for (const c of collectors)
      await waitFor(
        `${c} sees 4 agents`,
        async () => {
          const nodes = (await (await fetch(`${c}/api/v1/nodes`)).json()) as { state: string }[];
          return nodes.filter((n) => n.state === 'up').length === 4;
        },
        90_000,
        500,
      );
    const faultAt = Date.now();
    await lab.fault('tor-drop-vxlan');
    const isOurs = (a: Notification['alerts'][number]) =>
      // (`id`: from the rules, not the alerts the inhibition case posted by hand)
      a.labels.alertname === 'VxdoctorUnderlayVxlanFiltered' &&
      a.status === 'firing' &&
      a.labels.id !== undefined;
    const first = (await waitFor(
      'a VxdoctorUnderlayVxlanFiltered notification',
      () => notifications.find((n) => n.at >= faultAt && n.alerts.some(isOurs)),
      150_000,
      250,
    )) as Notification;
    const secs = (first.at - faultAt) / 1000;
    // Both replicas have raised the root cause, so a per-replica alert would exist by now.
    for (const c of collectors) {
      const d = (await (await fetch(`${c}/api/v1/diagnosis`)).json()) as DiagnosisResponse;
      assert.ok(
        d.rootCauses.some((rc) => rc.kind === 'underlay-vxlan-filtered'),
        `${c} has the root cause`,
      );
    }
    // Longer than the shipped group_interval (1m): a second alert in the group, or a second group
    // (e.g. one per replica), would have been notified by then.
    const am = parse(readFileSync(join(ROOT, 'deploy/alertmanager/alertmanager.yml'), 'utf8'));
    const groupIntervalS = Number.parseInt(String(am.route.group_interval), 10) * 60;
    await sleep((groupIntervalS + 10) * 1000);
    const ours = notifications.filter((n) => n.at >= faultAt && n.alerts.some(isOurs));
    writeFileSync(
      join(OUTPUT, 'alerting-notifications.json'),
      `${JSON.stringify({ faultToNotificationSeconds: secs, notifications: ours }, null, 2)}\n`,
    );
    assert.equal(ours.length, 1, `notifications: ${JSON.stringify(ours, null, 1)}`);
    const n = ours[0] as Notification;
    assert.equal(n.receiver, 'vxdoctor-page', 'critical: routed to the pager');
    const alerts = n.alerts.filter(isOurs);
    assert.equal(alerts.length, 1, 'one alert for one root cause, not one per replica');
    const a = alerts[0] as Notification['alerts'][number];
    assert.equal(a.labels.group_label, 'rack');
    assert.deepEqual([a.labels.from, a.labels.to].sort(), ['A', 'B']);
    assert.match(a.annotations.summary ?? '', /between rack [AB] and rack [AB]/);
    assert.match(a.annotations.summary ?? '', /rack A/);
    assert.match(a.annotations.summary ?? '', /rack B/);
    const runbook = a.annotations.runbook_url ?? '';
    const file = /\/blob\/main\/(docs\/runbooks\/VxdoctorUnderlayVxlanFiltered\.md)$/.exec(runbook)?.[1];
    assert.ok(file && existsSync(join(ROOT, file)), `runbook ${runbook} is a file in the repository`);
    // The root-cause link opens the collector page at that root cause.
    const link = a.annotations.rootcause_url ?? '';
    assert.ok(link.startsWith(pageUrl), link);
    const id = decodeURIComponent(link.split('#rc-')[1] ?? '');
    const d = (await (await fetch(`${collectors[0]}/api/v1/diagnosis`)).json()) as DiagnosisResponse;
    assert.ok(
      d.rootCauses.some((rc) => rc.id === id),
      `${id} is a root cause on the page`,
    );
    assert.equal((await fetch(link.split('#')[0] as string)).status, 200, 'the page answers');
    // In a browser, the link lands on that root cause (marked as the target).
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(link);
      const target = page.locator('article.rc.target');
      await target.waitFor({ timeout: 30_000, state: 'attached' });
      assert.equal(await target.getAttribute('data-id'), id);
    } finally {
      await browser.close();
    }
    await lab.clear();
  });
});
