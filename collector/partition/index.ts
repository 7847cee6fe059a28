/**
 * Partitioned mode of the collector (`--partition I/N`, docs/scale-out.md): this instance
 * ingests only the per-node subjects of the nodes it owns (./assign.ts), publishes a compact
 * digest of each evaluation to KV `vxdoctor_partitions`, watches the other instances' digests
 * and answers the API and /metrics from the merged cluster view (./view.ts). The runtime calls
 * the few hooks here (owns, afterEvaluate, view, attach, stop); without `--partition` none of
 * this exists and the collector is the single instance it always was.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../shared/logging.js';
import type { RootCause } from '../../shared/schema.js';
import type { DiagnosisInput } from '../state/index.js';
import { type Partition, ownsSubject, partitionOf } from './assign.js';
import { buildDigest, mergeView, type PartitionCoverage, type PartitionDigest, parseDigest } from './view.js';

export { type Partition, parsePartition, partitionOf } from './assign.js';

/** Digests of every partitioned instance; a key per partition, `p<I>of<N>`. */
export const KV_PARTITIONS = 'vxdoctor_partitions';
export const digestKey = (p: Partition) => `p${p.index}of${p.count}`;

export interface PartitioningOptions {
  self: Partition;
  instance: string;
  log: Logger;
  registry: Registry;
  /** Evaluation period: a digest older than 3 periods (at least 10 s) is a missing partition. */
  evaluateEveryMs: number;
  replicas: number;
  clock: () => number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Partitioning {
  readonly self: Partition;
  /** Per-node messages of nodes another instance owns, acked unread. */
  skipped = 0;
  /** Digests read from the bucket that failed to parse. */
  badDigests = 0;
  private readonly peers = new Map<string, PartitionDigest>();
  private merged: { rootCauses: RootCause[]; partitions: PartitionCoverage } | null = null;
  private kv: KV | null = null;
  private stopping = false;
  private watch: { stop(): void } | null = null;
  private task: Promise<void> | null = null;
  private lastPutFailed = false;
  url = '';
  private readonly staleMs: number;

  constructor(private readonly o: PartitioningOptions) {
    this.self = o.self;
    this.staleMs = Math.max(10_000, 3 * o.evaluateEveryMs);
    const self = this;
    new Gauge({
      name: 'vxdoctor_collector_partitions',
      help: 'Partitioned collector (--partition): instances sharing the work, by whether their digest is fresh (present) or not (missing)',
      labelNames: ['state'],
      registers: [o.registry],
      collect() {
        const p = self.merged?.partitions;
        this.set({ state: 'present' }, p ? p.present.length : 1);
        this.set({ state: 'missing' }, p ? p.missing.length : self.self.count - 1);
      },
    });
    new Gauge({
      name: 'vxdoctor_collector_partition_unjudged_nodes',
      help: 'Nodes owned by a missing collector partition: nobody diagnoses them',
      registers: [o.registry],
      collect() {
        this.set(self.merged?.partitions.unjudgedNodes ?? 0);
      },
    });
    new Gauge({
      name: 'vxdoctor_collector_partition_skipped_messages',
      help: "Per-node messages of other partitions' nodes this instance acked unread (since start)",
      registers: [o.registry],
      collect() {
        this.set(self.skipped);
      },
    });
  }

  /** Whether this instance ingests a message on `subject` (counts the ones it skips). */
  owns(subject: string): boolean {
    if (ownsSubject(subject, this.self)) return true;
    this.skipped++;
    return false;
  }

  owner(node: string): number {
    return partitionOf(node, this.self.count);
  }

  /** Watches the other instances' digests (retrying), once NATS is connected. */
  attach(nc: NatsConnection): void {
    this.task = (async () => {
      while (!this.stopping) {
        try {
          const kvm = new Kvm(nc);
          let kv: KV;
          try {
            kv = await kvm.open(KV_PARTITIONS);
            await kv.status();
          } catch {
            kv = await kvm.create(KV_PARTITIONS, { history: 1, ttl: 10 * 60_000, replicas: this.o.replicas });
          }
          this.kv = kv;
          const w = await kv.watch();
          this.watch = w;
          for await (const e of w) {
            if (e.operation !== 'PUT') {
              this.peers.delete(e.key);
              continue;
            }
            const d = parseDigest(e.value);
            if (!d || digestKey(d.partition) !== e.key) {
              this.badDigests++;
              this.peers.delete(e.key);
              continue;
            }
            // Age on the server's clock: a peer with a skewed clock is neither fresh forever nor never.
            this.peers.set(e.key, { ...d, at: Math.min(d.at, e.created.getTime()) });
          }
        } catch (err) {
          if (!this.stopping) this.o.log.warn({ err }, 'partition digests watch failed, retrying');
        }
        if (!this.stopping) await sleep(1000);
      }
    })();
  }

  /** After each evaluation: publish this instance's digest, merge the cluster view. */
  afterEvaluate(input: DiagnosisInput, rootCauses: RootCause[]): RootCause[] {
    const own = buildDigest({
      self: this.self,
      instance: this.o.instance,
      url: this.url,
      input,
      rootCauses,
      partitionOf: (n) => this.owner(n),
    });
    const kv = this.kv;
    if (kv)
      kv.put(digestKey(this.self), JSON.stringify(own)).then(
        () => {
          this.lastPutFailed = false;
        },
        (err) => {
          if (!this.lastPutFailed) this.o.log.warn({ err }, 'publishing the partition digest failed');
          this.lastPutFailed = true;
        },
      );
    const groupOf = new Map<string, string[]>();
    for (const n of input.nodes) {
      const g = n.labels[input.groupLabel] ?? '';
      const l = groupOf.get(g);
      if (l) l.push(n.name);
      else groupOf.set(g, [n.name]);
    }
    const before = this.merged?.partitions.missing.join(',');
    this.merged = mergeView({
      self: this.self,
      own,
      peers: [...this.peers.values()],
      now: this.o.clock(),
      staleMs: this.staleMs,
      groupLabel: input.groupLabel,
      nodesOf: (g) => groupOf.get(g) ?? [],
      allNodes: input.nodes.map((n) => n.name),
      partitionOf: (n) => this.owner(n),
    });
    const p = this.merged.partitions;
    if (p.missing.join(',') !== before) {
      if (p.missing.length)
        this.o.log.warn(
          { missing: p.missing, unjudgedNodes: p.unjudgedNodes },
          'collector partitions missing: their nodes are judged by nobody',
        );
      else this.o.log.info({ present: p.present }, 'every collector partition present');
    }
    return this.merged.rootCauses;
  }

  /** The merged cluster view (null before the first evaluation). */
  view(): { rootCauses: RootCause[]; partitions: PartitionCoverage } | null {
    return this.merged;
  }

  /** Stops watching and withdraws this instance's digest (the others see it missing at once). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.watch?.stop();
    const kv = this.kv;
    if (kv) await Promise.race([kv.delete(digestKey(this.self)).catch(() => undefined), sleep(2000)]);
    await Promise.race([this.task, sleep(2000)]);
  }
}
