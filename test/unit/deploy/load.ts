/**
 * Builds a kustomization with the real `kubectl kustomize` (what `kubectl apply -k` sends) and
 * parses its output into objects.
 */
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: unknown;
  data?: unknown;
  [k: string]: unknown;
}

export const K8S_DIR = 'deploy/kubernetes';

/** `kubectl kustomize DIR`; throws with kubectl's own message when the build fails. */
export function kubectlKustomize(dir: string): string {
  try {
    return execFileSync('kubectl', ['kustomize', dir], {
      encoding: 'utf8',
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`kubectl kustomize ${dir} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

export function parseObjects(text: string, where: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const d of parseAllDocuments(text)) {
    if (d.errors.length) throw new Error(`${where}: ${d.errors[0]?.message}`);
    const o = d.toJS() as K8sObject | null;
    if (o) out.push(o);
  }
  return out;
}

export function kustomizeResources(dir = K8S_DIR): K8sObject[] {
  return parseObjects(kubectlKustomize(dir), `kubectl kustomize ${dir}`);
}
