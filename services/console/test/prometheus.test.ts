import { describe, expect, it } from 'vitest';
import { histogramBuckets, parsePrometheus, quantileOfDelta, sumBy, sumOf } from '../src/prometheus.js';
import { RingSeries } from '../src/series.js';

const TEXT = `# HELP http_server_request_duration_seconds x
# TYPE http_server_request_duration_seconds histogram
http_server_request_duration_seconds_bucket{le="0.01",method="GET",route="/a",status_code="200"} 5
http_server_request_duration_seconds_bucket{le="0.1",method="GET",route="/a",status_code="200"} 9
http_server_request_duration_seconds_bucket{le="+Inf",method="GET",route="/a",status_code="200"} 10
http_server_request_duration_seconds_count{method="GET",route="/a",status_code="200"} 10
http_server_request_duration_seconds_bucket{le="0.01",method="GET",route="/health/ready",status_code="200"} 7
http_server_request_duration_seconds_bucket{le="0.1",method="GET",route="/health/ready",status_code="200"} 7
http_server_request_duration_seconds_bucket{le="+Inf",method="GET",route="/health/ready",status_code="200"} 7
http_server_request_duration_seconds_count{method="GET",route="/health/ready",status_code="200"} 7
alf_events_dropped_total{reason="rate_limit",service="a\\"b",level="info"} 3
alf_events_dropped_total{reason="rate_limit",service="c",level="info"} 4
alf_events_dropped_total{reason="budget",service="c",level="info"} 1e1
`;

describe('Prometheus text', () => {
  const samples = parsePrometheus(TEXT);
  const app = (l: Record<string, string>) => !l.route?.startsWith('/health');

  it('sums counters with and without a label filter, and by label', () => {
    expect(sumOf(samples, 'http_server_request_duration_seconds_count')).toBe(17);
    expect(sumOf(samples, 'http_server_request_duration_seconds_count', app)).toBe(10);
    expect(sumBy(samples, 'alf_events_dropped_total', 'reason')).toEqual({ rate_limit: 7, budget: 10 });
    expect(samples.find((s) => s.value === 3)?.labels.service).toBe('a"b');
  });

  it('interpolates the p99 inside the bucket, on deltas only', () => {
    const now = histogramBuckets(samples, 'http_server_request_duration_seconds', app);
    expect([...now]).toEqual([
      [0.01, 5],
      [0.1, 9],
      [Number.POSITIVE_INFINITY, 10],
    ]);
    // 10 observations: rank 5 is the last of the first bucket
    expect(quantileOfDelta(0.5, now)).toBeCloseTo(0.01);
    // rank 9.9 lies above the last finite bound: the bound is the answer
    expect(quantileOfDelta(0.99, now)).toBe(0.1);
    const before = new Map([
      [0.01, 5],
      [0.1, 5],
      [Number.POSITIVE_INFINITY, 5],
    ]);
    // 4 new observations, all in (0.01, 0.1]: rank 3.96 of 4
    expect(
      quantileOfDelta(0.99, new Map([...now].map(([k, v]) => [k, k === Infinity ? 9 : v])), before),
    ).toBeCloseTo(0.01 + 0.09 * (3.96 / 4));
    expect(quantileOfDelta(0.99, now, now)).toBeNull();
  });
});

describe('RingSeries', () => {
  it('keeps the last `capacity` points in order, and filters by time', () => {
    const series = new RingSeries(3);
    for (let i = 1; i <= 5; i++) series.push(i * 1000, i);
    expect(series.points()).toEqual({ t: [3000, 4000, 5000], v: [3, 4, 5] });
    expect(series.points(4000)).toEqual({ t: [4000, 5000], v: [4, 5] });
    expect(series.size).toBe(3);
  });
});
