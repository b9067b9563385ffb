/** A minimal reader of the Prometheus text exposition format: enough for counters and histograms. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Every sample of the text (comments and malformed lines are skipped). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = LINE.exec(line);
    if (!match) continue;
    const [, name, rawLabels, rawValue] = match;
    const value = parseValue(rawValue ?? '');
    if (name === undefined || Number.isNaN(value)) continue;
    const labels: Record<string, string> = {};
    if (rawLabels)
      for (const label of rawLabels.matchAll(LABEL))
        labels[label[1] as string] = (label[2] as string).replace(/\\(.)/g, (_, c: string) =>
          c === 'n' ? '\n' : c,
        );
    samples.push({ name, labels, value });
  }
  return samples;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** Sum of a metric's samples whose labels pass `keep`. */
export function sumOf(
  samples: readonly Sample[],
  name: string,
  keep: (labels: Record<string, string>) => boolean = () => true,
): number {
  let total = 0;
  for (const s of samples) if (s.name === name && keep(s.labels)) total += s.value;
  return total;
}

/** Sum of a metric's samples grouped by one label. */
export function sumBy(samples: readonly Sample[], name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (s.name !== name) continue;
    const key = s.labels[label] ?? '';
    out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}

/** Cumulative histogram buckets summed over label sets: `le` (a number, Infinity last) → count. */
export function histogramBuckets(
  samples: readonly Sample[],
  name: string,
  keep: (labels: Record<string, string>) => boolean = () => true,
): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !keep(s.labels)) continue;
    const le = parseValue(s.labels.le ?? '');
    if (Number.isNaN(le)) continue;
    buckets.set(le, (buckets.get(le) ?? 0) + s.value);
  }
  return buckets;
}

/**
 * The q-quantile of the observations between two cumulative bucket snapshots, interpolated
 * linearly inside the bucket as Prometheus's histogram_quantile does. Null without observations.
 */
export function quantileOfDelta(
  q: number,
  now: ReadonlyMap<number, number>,
  before: ReadonlyMap<number, number> = new Map(),
): number | null {
  const bounds = [...now.keys()].sort((a, b) => a - b);
  const deltas = bounds.map((le) => Math.max(0, (now.get(le) ?? 0) - (before.get(le) ?? 0)));
  const total = deltas[deltas.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (let i = 0; i < bounds.length; i++) {
    const le = bounds[i] as number;
    const count = deltas[i] as number;
    if (count >= rank) {
      // Above the highest finite bound there is nothing to interpolate: answer that bound.
      if (!Number.isFinite(le)) return lower;
      if (count === below) return le;
      return lower + ((le - lower) * (rank - below)) / (count - below);
    }
    lower = le;
    below = count;
  }
  return lower;
}
