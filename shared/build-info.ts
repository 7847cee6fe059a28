/** `vxdoctor_build_info`: the same metric, with the same meaning, in the agent and the collector. */
import { Gauge, type Registry } from 'prom-client';
import { VERSION } from './version.js';

export function registerBuildInfo(registry: Registry, component: 'agent' | 'collector'): void {
  new Gauge({
    name: 'vxdoctor_build_info',
    help: 'Always 1; labels name the vxdoctor version, the component and the Node.js version.',
    labelNames: ['version', 'component', 'nodejs'],
    registers: [registry],
    collect() {
      this.set({ version: VERSION, component, nodejs: process.versions.node }, 1);
    },
  });
}
