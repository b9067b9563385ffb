/**
 * Preloaded into every service of the demo (`node --import <WATCHDOG_IMPORT> main.js`): if the
 * launcher dies without stopping it (SIGKILL, a crash), the child is re-parented; it then shuts
 * itself down gracefully (SIGTERM to itself) instead of running on, orphaned, holding its port.
 * A data: URL, so it works the same from src (tests) and dist, with no file to find.
 */
export const WATCHDOG_SOURCE = `const launcher = process.ppid;
setInterval(() => { if (process.ppid !== launcher) process.kill(process.pid, 'SIGTERM'); }, 1000).unref();`;

export const WATCHDOG_IMPORT = `data:text/javascript,${encodeURIComponent(WATCHDOG_SOURCE)}`;
