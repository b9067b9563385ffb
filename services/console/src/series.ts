/** A fixed-capacity time series: the oldest point is overwritten once full. */
export class RingSeries {
  readonly #times: Float64Array;
  readonly #values: Float64Array;
  #next = 0;
  #size = 0;

  constructor(readonly capacity: number) {
    this.#times = new Float64Array(capacity);
    this.#values = new Float64Array(capacity);
  }

  push(timeMs: number, value: number): void {
    this.#times[this.#next] = timeMs;
    this.#values[this.#next] = value;
    this.#next = (this.#next + 1) % this.capacity;
    this.#size = Math.min(this.#size + 1, this.capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Points oldest first, dropping those older than `sinceMs`. */
  points(sinceMs = Number.NEGATIVE_INFINITY): { t: number[]; v: number[] } {
    const t: number[] = [];
    const v: number[] = [];
    const start = (this.#next - this.#size + this.capacity) % this.capacity;
    for (let i = 0; i < this.#size; i++) {
      const at = (start + i) % this.capacity;
      const time = this.#times[at] as number;
      if (time < sinceMs) continue;
      t.push(time);
      v.push(this.#values[at] as number);
    }
    return { t, v };
  }
}
