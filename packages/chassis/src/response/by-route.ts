/**
 * Values per route template, method and status code, in nested maps: per-request lookups build no
 * key string. The sets are small and fixed per service (templates, not URLs).
 */
export class ByRouteMethodStatus<T> {
  #byRoute = new Map<string, Map<string, Map<number, T>>>();
  readonly #maxRoutes: number;

  /** `maxRoutes`: routes beyond it are not stored (`set` does nothing for them). */
  constructor(maxRoutes = Number.POSITIVE_INFINITY) {
    this.#maxRoutes = maxRoutes;
  }

  get(route: string, method: string, status: number): T | undefined {
    return this.#byRoute.get(route)?.get(method)?.get(status);
  }

  set(route: string, method: string, status: number, value: T): void {
    let byMethod = this.#byRoute.get(route);
    if (byMethod === undefined) {
      if (this.#byRoute.size >= this.#maxRoutes) return;
      byMethod = new Map();
      this.#byRoute.set(route, byMethod);
    }
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      byMethod.set(method, byStatus);
    }
    byStatus.set(status, value);
  }

  *values(): IterableIterator<T> {
    for (const byMethod of this.#byRoute.values())
      for (const byStatus of byMethod.values()) yield* byStatus.values();
  }

  clear(): void {
    this.#byRoute = new Map();
  }
}
