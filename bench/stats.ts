export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles over every sample, in ms; NaN without samples. */
export function latency(samples: Float64Array): Latency {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => (sorted.length === 0 ? Number.NaN : (sorted[Math.ceil(q * sorted.length) - 1] as number));
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}
