import type { ChassisConfig } from '@fleet/chassis';

/** What the console knows how to read beyond the chassis routes every service has. */
export const SERVICE_KINDS = ['alf', 'index-provisioner', 'plugin-runner', 'service'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

/** One service of the fleet, as listed in CONSOLE_SERVICES. */
export interface ServiceTarget {
  name: string;
  /** Base URL of its health, metrics and admin routes (no trailing slash). */
  url: string;
  kind: ServiceKind;
}

/** The console's own configuration keys (merged with the chassis keys). */
export interface ConsoleOwnConfig {
  console: {
    /** JSON array of `{ name, url, kind }`: parsed and checked by parseServices. */
    services: string;
    /** Token with every admin scope, for the console's background reads. */
    token: string;
    pollMs: number;
    /** Per-request timeout of one background read. */
    requestTimeoutMs: number;
  };
}

export type ConsoleConfig = ChassisConfig & ConsoleOwnConfig;

export const consoleSchema = {
  console: {
    services: {
      doc: 'JSON array of the services to watch: [{"name":"alf","url":"http://127.0.0.1:4101","kind":"alf"}], kind one of alf, index-provisioner, plugin-runner, service',
      format: String,
      default: '[]',
      env: 'CONSOLE_SERVICES',
    },
    token: {
      doc: 'JWT with every admin scope the console needs for its background reads of services (CONSOLE_TOKEN_FILE works too)',
      format: String,
      default: '',
      env: 'CONSOLE_TOKEN',
      sensitive: true,
    },
    pollMs: {
      doc: 'How often every service is polled, ms',
      format: 'nat',
      default: 2000,
      env: 'CONSOLE_POLL_MS',
    },
    requestTimeoutMs: {
      doc: 'Timeout of one request to a service, ms',
      format: 'nat',
      default: 1500,
      env: 'CONSOLE_REQUEST_TIMEOUT_MS',
    },
  },
};

const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** Parse CONSOLE_SERVICES; every problem is reported, not just the first. */
export function parseServices(text: string): { services: ServiceTarget[]; problems: string[] } {
  const problems: string[] = [];
  const services: ServiceTarget[] = [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { services, problems: [`console.services: not valid JSON: ${(err as Error).message}`] };
  }
  if (!Array.isArray(parsed))
    return { services, problems: ['console.services: must be a JSON array of { name, url, kind }'] };
  const seen = new Set<string>();
  parsed.forEach((entry: unknown, i) => {
    const at = `console.services[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${at}: must be an object { name, url, kind }`);
      return;
    }
    const { name, url, kind, ...rest } = entry as Record<string, unknown>;
    const before = problems.length;
    for (const key of Object.keys(rest)) problems.push(`${at}: unknown key ${JSON.stringify(key)}`);
    if (typeof name !== 'string' || !NAME.test(name))
      problems.push(`${at}.name: must be a name of a-z, 0-9, '_', '.', '-' (got ${JSON.stringify(name)})`);
    else if (seen.has(name)) problems.push(`${at}.name: duplicate service name ${JSON.stringify(name)}`);
    else seen.add(name);
    if (typeof url !== 'string' || !isHttpUrl(url))
      problems.push(`${at}.url: must be an http(s) URL (got ${JSON.stringify(url)})`);
    const kindValue = kind ?? 'service';
    if (typeof kindValue !== 'string' || !(SERVICE_KINDS as readonly string[]).includes(kindValue))
      problems.push(`${at}.kind: unknown kind ${JSON.stringify(kind)} (one of ${SERVICE_KINDS.join(', ')})`);
    if (problems.length === before)
      services.push({
        name: name as string,
        url: (url as string).replace(/\/+$/, ''),
        kind: kindValue as ServiceKind,
      });
  });
  return { services, problems };
}

function isHttpUrl(text: string): boolean {
  try {
    const { protocol } = new URL(text);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}
