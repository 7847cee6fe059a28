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
import type { NodeDetail, RootCause } from '../../shared/schema.js';
import { isNodeName } from '../../shared/subjects.js';
import type { DiagnosisInput } from '../state/index.js';
import { type Partition, ownsSubject, partitionOf } from './assign.js';
import { buildDigest, mergeView, type PartitionCoverage, type PartitionDigest, parseDigest } from './view.js';

export { type Partition, parsePartition, partitionOf } from './assign.js';

/** Digests of every partitioned instance; a key per partition, `p<I>of<N>`. */
export const KV_PARTITIONS = 'vxdoctor_partitions';
export const digestKey = (p: Partition) => `p${p.index}of${p.count}`;
/**
 * Request/reply subject on which the instance owning a partition answers a node's detail
 * (`GET /api/v1/nodes/<name>` on any instance). Outside `vxdoctor.v1.>`: the stream never stores it.
 */
export const NODE_DETAIL_PREFIX = 'vxdoctor.collector.v1';
export const nodeDetailSubject = (p: Partition) => `${NODE_DETAIL_PREFIX}.${digestKey(p)}.node`;
/** How long a node's detail waits for its owner. */
export const NODE_DETAIL_TIMEOUT_MS = 3000;

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
  private nc: NatsConnection | null = null;
  private sub: { unsubscribe(): void } | null = null;
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

  /**
   * Watches the other instances' digests (retrying) once NATS is connected, and answers the
   * details of the nodes this instance owns from `local`.
   */
  attach(nc: NatsConnection, local: (name: string) => NodeDetail | null): void {
    this.nc = nc;
    const sub = nc.subscribe(nodeDetailSubject(this.self), {
      callback: (err, m) => {
        if (err) return;
        try {
          const name = new TextDecoder().decode(m.data);
          m.respond(
            JSON.stringify(isNodeName(name) && this.owner(name) === this.self.index ? local(name) : null),
          );
        } catch (e) {
          this.o.log.warn({ err: e }, 'answering a node detail failed');
        }
      },
    });
    this.sub = sub;
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

  /**
   * A node's detail: from `local` when this instance owns it, else from its owner over NATS.
   * Throws when the owner does not answer (the API says 503, naming the partition).
   */
  async nodeDetail(name: string, local: (name: string) => NodeDetail | null): Promise<NodeDetail | null> {
    if (!isNodeName(name)) return null;
    const owner = this.owner(name);
    if (owner === this.self.index) return local(name);
    const nc = this.nc;
    const p = { index: owner, count: this.self.count };
    if (!nc) throw new Error(`not connected to NATS: cannot ask partition ${digestKey(p)}, owner of ${name}`);
    try {
      const r = await nc.request(nodeDetailSubject(p), name, { timeout: NODE_DETAIL_TIMEOUT_MS });
      return JSON.parse(new TextDecoder().decode(r.data)) as NodeDetail | null;
    } catch (err) {
      throw new Error(
        `collector partition ${digestKey(p)}, owner of ${name}, does not answer (${String((err as Error).message).slice(0, 120)})`,
      );
    }
  }

  /** The merged cluster view (null before the first evaluation). */
  view(): { rootCauses: RootCause[]; partitions: PartitionCoverage } | null {
    return this.merged;
  }

  /** Stops watching and withdraws this instance's digest (the others see it missing at once). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.watch?.stop();
    this.sub?.unsubscribe();
    const kv = this.kv;
    if (kv) await Promise.race([kv.delete(digestKey(this.self)).catch(() => undefined), sleep(2000)]);
    await Promise.race([this.task, sleep(2000)]);
  }
}
