import type { ResolveIdentity } from '../../publisher/admin.js';
import type { FlagValues } from '../option-table.js';
import { IDENTITY_OPTIONS } from '../option-table.js';

/** The identity described by --app --cluster --region --node --env (absent flags left out). */
export function identityFrom(flags: FlagValues): ResolveIdentity {
  const identity: Record<string, string> = {};
  for (const key of IDENTITY_OPTIONS) {
    const value = flags[key];
    if (typeof value === 'string') identity[key] = value;
  }
  return identity;
}

export function describeIdentity(identity: ResolveIdentity): string {
  const parts = Object.entries(identity).map(([k, v]) => `${k}=${v}`);
  return parts.length === 0 ? '(empty identity)' : parts.join(',');
}
