import type { FlagInfo } from '@fleet/chassis';

/** A flag as the console API shows it. */
export interface FlagView {
  name: string;
  /** Basis points, 0..10000. */
  value: number;
  /** The value as a percentage with two decimals ("12.34%"). */
  percent: string;
  source: FlagInfo['source'];
  description: string;
  owner: string;
  updated_at: string | null;
  updated_by: string | null;
  version: number | null;
}

export function formatBasisPoints(value: number): string {
  return `${(value / 100).toFixed(2)}%`;
}

export function toFlagView(info: FlagInfo): FlagView {
  return {
    name: info.name,
    value: info.value,
    percent: formatBasisPoints(info.value),
    source: info.source,
    description: info.description,
    owner: info.owner,
    updated_at: info.updatedAt,
    updated_by: info.updatedBy,
    version: info.version,
  };
}

/** ALF's drop flag of a service: the same name mangling as ALF (lower case, [a-z0-9_.-], 100 chars). */
export function alfDropFlag(service: string): string {
  const safe = service
    .toLowerCase()
    .replace(/[^a-z0-9_.-]/g, '-')
    .slice(0, 100);
  return `alf.drop.service.${safe}`;
}
