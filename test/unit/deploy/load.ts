/** Loads the Kubernetes objects listed in deploy/kubernetes/kustomization.yaml (committed files only). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: unknown;
  data?: unknown;
  [k: string]: unknown;
}

export const K8S_DIR = 'deploy/kubernetes';

export function kustomizeResources(dir = K8S_DIR): K8sObject[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  const out: K8sObject[] = [];
  for (const file of k.resources) {
    if (file.startsWith('generated/')) continue; // written by nats-auth.ts at install time
    const path = join(dir, file);
    if (!existsSync(path)) throw new Error(`kustomization resource ${path} missing`);
    for (const d of parseAllDocuments(readFileSync(path, 'utf8'))) {
      if (d.errors.length) throw new Error(`${path}: ${d.errors[0]?.message}`);
      const o = d.toJS() as K8sObject | null;
      if (o) out.push(o);
    }
  }
  return out;
}
