/** Exit code for configuration errors (EX_CONFIG from sysexits.h). */
export const CONFIG_ERROR_EXIT_CODE = 78;

/** Thrown when configuration is invalid; `problems` lists every problem found, not just the first. */
export class ConfigError extends Error {
  readonly exitCode = CONFIG_ERROR_EXIT_CODE;
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}
