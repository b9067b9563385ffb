/** Raised when an operation exceeds its time budget. */
export class TimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** setTimeout fires at once for delays above 2^31-1 ms; past that, a deadline is effectively none. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Run `fn` with a deadline. `fn` receives an AbortSignal that fires at the deadline (pass it to
 * fetch and other cancellable calls); the returned promise rejects with TimeoutError then, even
 * if `fn` ignores the signal. When `parent` aborts first (or already has), the signal given to
 * `fn` aborts too and the promise rejects with the parent's reason. A non-finite `ms` means no
 * deadline (only `parent` can stop it).
 */
export async function withTimeout<T>(
  ms: number,
  fn: (signal: AbortSignal) => Promise<T>,
  parent?: AbortSignal,
): Promise<T> {
  parent?.throwIfAborted();
  const controller = new AbortController();
  const error = new TimeoutError(ms);
  let timer: NodeJS.Timeout | undefined;
  let onParentAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    if (Number.isFinite(ms) && ms < MAX_TIMER_MS) {
      timer = setTimeout(
        () => {
          controller.abort(error);
          reject(error);
        },
        Math.max(0, ms),
      );
    }
    if (parent) {
      onParentAbort = () => {
        controller.abort(parent.reason);
        reject(parent.reason);
      };
      parent.addEventListener('abort', onParentAbort, { once: true });
    }
  });
  try {
    return await Promise.race([fn(controller.signal), stopped]);
  } finally {
    clearTimeout(timer);
    if (onParentAbort) parent?.removeEventListener('abort', onParentAbort);
  }
}
