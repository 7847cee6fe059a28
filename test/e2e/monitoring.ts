/**
 * Real Prometheus + Alertmanager for end-to-end tests: Prometheus scrapes the collector every
 * 2 s and evaluates the shipped rules (deploy/prometheus/vxdoctor-rules.yml); Alertmanager sends
 * to a webhook receiver running in the test process. Everything binds 127.0.0.1; processes are
 * stopped by PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './harness.js';

export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
}

export interface ReceivedNotification {
  at: number;
  status: string;
  alerts: WebhookAlert[];
}

async function waitHttp(url: string, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  let last = '';
  while (Date.now() < end) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (r.ok) return;
      last = `HTTP ${r.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready after ${deadlineMs} ms: ${last}`);
}

export class Monitoring {
  readonly notifications: ReceivedNotification[] = [];
  private procs: ChildProcess[] = [];
  private webhook: Server | null = null;
  private dir = '';
  promPort = 0;
  amPort = 0;

  /** Starts the webhook receiver, Alertmanager and Prometheus scraping `collectorHostPort`. */
  async start(opts: { collectorHostPort: string; logDir: string; rulesFile?: string }): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'vxdoctor-mon-'));
    const rules = resolve(opts.rulesFile ?? 'deploy/prometheus/vxdoctor-rules.yml');

    this.webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        try {
          const msg = JSON.parse(body) as { status: string; alerts: WebhookAlert[] };
          this.notifications.push({ at: Date.now(), status: msg.status, alerts: msg.alerts });
        } catch {
          // a malformed webhook body is Alertmanager's bug; the test will fail on missing pages
        }
        res.end('ok');
      });
    });
    await new Promise<void>((r) => this.webhook?.listen(0, '127.0.0.1', r));
    const hookPort = (this.webhook.address() as AddressInfo).port;

    this.amPort = await freePort();
    const amConfig = join(this.dir, 'alertmanager.yml');
    writeFileSync(
      amConfig,
      [
        'route:',
        '  receiver: test',
        "  group_by: ['alertname', 'kind']",
        '  group_wait: 1s',
        '  group_interval: 2s',
        '  repeat_interval: 1h',
        'receivers:',
        '  - name: test',
        '    webhook_configs:',
        `      - url: http://127.0.0.1:${hookPort}/hook`,
        '        send_resolved: true',
        '',
      ].join('\n'),
    );
    this.spawnLogged(
      'prometheus-alertmanager',
      [
        `--config.file=${amConfig}`,
        `--storage.path=${join(this.dir, 'am')}`,
        `--web.listen-address=127.0.0.1:${this.amPort}`,
        '--cluster.listen-address=',
      ],
      join(opts.logDir, 'alertmanager.log'),
    );

    this.promPort = await freePort();
    const promConfig = join(this.dir, 'prometheus.yml');
    writeFileSync(
      promConfig,
      [
        'global:',
        '  scrape_interval: 2s',
        '  evaluation_interval: 2s',
        'rule_files:',
        `  - ${rules}`,
        'alerting:',
        '  alertmanagers:',
        '    - static_configs:',
        `        - targets: ['127.0.0.1:${this.amPort}']`,
        'scrape_configs:',
        '  - job_name: vxdoctor-collector',
        '    static_configs:',
        `      - targets: ['${opts.collectorHostPort}']`,
        '',
      ].join('\n'),
    );
    this.spawnLogged(
      'prometheus',
      [
        `--config.file=${promConfig}`,
        `--storage.tsdb.path=${join(this.dir, 'prom')}`,
        `--web.listen-address=127.0.0.1:${this.promPort}`,
        '--rules.alert.resend-delay=2s',
      ],
      join(opts.logDir, 'prometheus.log'),
    );
    await waitHttp(`http://127.0.0.1:${this.amPort}/-/ready`, 30_000);
    await waitHttp(`http://127.0.0.1:${this.promPort}/-/ready`, 30_000);
  }

  private spawnLogged(cmd: string, args: string[], logFile: string): void {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: string[] = [];
    const keep = (c: Buffer) => {
      chunks.push(c.toString());
      if (chunks.length > 2000) chunks.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('exit', () => {
      try {
        writeFileSync(logFile, chunks.join(''));
      } catch {
        // log dir gone: nothing to keep
      }
    });
    this.procs.push(child);
  }

  /** Alerts Prometheus currently has (firing or pending). */
  async promAlerts(): Promise<Array<{ labels: Record<string, string>; state: string }>> {
    const r = await fetch(`http://127.0.0.1:${this.promPort}/api/v1/alerts`);
    const body = (await r.json()) as {
      data: { alerts: Array<{ labels: Record<string, string>; state: string }> };
    };
    return body.data.alerts;
  }

  /** Firing notifications received for an alert (optionally filtered by a label). */
  firing(alertname: string, since = 0): WebhookAlert[] {
    return this.notifications
      .filter((n) => n.at >= since)
      .flatMap((n) => n.alerts)
      .filter((a) => a.labels.alertname === alertname && a.status === 'firing');
  }

  resolvedSince(alertname: string, since: number): boolean {
    return this.notifications
      .filter((n) => n.at >= since)
      .flatMap((n) => n.alerts)
      .some((a) => a.labels.alertname === alertname && a.status === 'resolved');
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.procs.map(
        (p) =>
          new Promise<void>((r) => {
            if (p.exitCode !== null || p.signalCode !== null) return r();
            const t = setTimeout(() => {
              p.kill('SIGKILL');
            }, 5000);
            p.once('exit', () => {
              clearTimeout(t);
              r();
            });
            p.kill('SIGTERM');
          }),
      ),
    );
    this.procs = [];
    await new Promise<void>((r) => (this.webhook ? this.webhook.close(() => r()) : r()));
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
