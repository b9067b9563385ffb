import { builtinModules } from 'node:module';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * A service name is used as the npm package `@fleet/<name>`, the folder name, and the name of its
 * Kubernetes objects and container. So it must be a valid npm package name, a DNS-1123 label
 * (lowercase letters, digits and '-', at most 63 characters, starting and ending alphanumeric), and
 * start with a letter (Kubernetes Service names are DNS-1035 labels).
 * Returns the problem, or undefined when the name is fine.
 */
export function nameProblem(name: string): string | undefined {
  if (!name) return 'the service name is empty';
  if (name.length > 63) return `'${name}' is ${name.length} characters long; at most 63 (DNS-1123 label)`;
  if (name !== name.toLowerCase())
    return `'${name}' has uppercase letters (npm names and DNS labels are lowercase)`;
  if (!DNS_LABEL.test(name))
    return `'${name}' is not a DNS-1123 label: use lowercase letters, digits and '-', starting and ending with a letter or digit`;
  if (!/^[a-z]/.test(name))
    return `'${name}' must start with a letter (Kubernetes Service names are DNS-1035 labels)`;
  if (builtinModules.includes(name) || ['node_modules', 'favicon.ico'].includes(name))
    return `'${name}' is a reserved npm package name (a Node.js core module or npm blocklist name)`;
  return undefined;
}

/** Ports 1024-65535: the container runs as a non-root user, which cannot bind lower ports. */
export function portProblem(port: number): string | undefined {
  if (!Number.isInteger(port) || port < 1024 || port > 65535)
    return `port must be an integer from 1024 to 65535 (the service runs as a non-root user), got '${port}'`;
  return undefined;
}

/** A one-line description, safe in JSON, YAML, Markdown and TypeScript strings once JSON-encoded. */
export function descriptionProblem(description: string): string | undefined {
  if (description.trim() === '') return 'the description is empty';
  if ([...description].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
    return 'the description must be a single line of text';
  if (description.length > 200) return 'the description must be at most 200 characters';
  return undefined;
}

export function parsePort(value: string): number {
  return /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
}
