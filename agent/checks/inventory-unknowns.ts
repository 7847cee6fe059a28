import type { Check } from '../../shared/schema.js';
import { unknown } from './util.js';

/** What the inventory could not read, as `unknown` findings with the reason (never silence). */
export const inventoryUnknowns: Check = {
  id: 'inventory',
  title: 'Everything the checks need could be read',
  incident: [],
  run(s) {
    const seen = new Set<string>();
    const all = [...s.unknowns, ...s.namespaces.flatMap((n) => n.unknowns)];
    return all
      .filter((u) => {
        const k = `${u.what}\u0000${u.reason}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      })
      .map((u) => unknown(s, 'inventory', u.what, u.reason));
  },
};
