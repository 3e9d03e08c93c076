/**
 * Module hooks (node:module registerHooks) that put counting-select.ts in place of
 * cggmp/arith/select.ts for every importer but counting-select.ts itself. Registered by the
 * modexp-count runner before it imports anything from cggmp/, so that every exponentiation of
 * the protocols goes through the counting decorator; the core code is unchanged.
 */
import { registerHooks } from 'node:module';

const SELECT = new URL('../../cggmp/arith/select.ts', import.meta.url).href;
const COUNTING = new URL('./counting-select.ts', import.meta.url).href;

export function installCountingBackend(): void {
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context);
      if (resolved.url === SELECT && context.parentURL !== COUNTING) return { ...resolved, url: COUNTING };
      return resolved;
    },
  });
}
