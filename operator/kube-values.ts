/**
 * Small conversions every controller needs: the HTTP status of a client-node error, timestamps in
 * the form Kubernetes writes them, counts by phase for the gauges, whole-millisecond timings.
 */

/** The HTTP status of an API error thrown by @kubernetes/client-node (undefined for network errors). */
export const statusOf = (e: unknown): number | undefined => (e as { code?: number }).code;

/** RFC 3339 in UTC without fractional seconds, as Kubernetes writes times. */
export const utc = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function countByPhase<P extends string>(phases: ReadonlyMap<string, P>): Partial<Record<P, number>> {
  const out: Partial<Record<P, number>> = {};
  for (const p of phases.values()) out[p] = (out[p] ?? 0) + 1;
  return out;
}

export function roundTimings(t: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round(v)]));
}
