import type { PollUpdate, S3Location, VersionRecord } from '@meshpress/client';

/**
 * Orders a version's S3 copies for a caller: the copy in the caller's own region first, the others after
 * in their published order, so the client downloads from the closest bucket and falls back across the
 * rest on a regional outage. Records without S3 copies, or callers without a region, are returned as is.
 */
export function closestFirst(record: VersionRecord, region: string | undefined): VersionRecord {
  const pointer = record.pointer;
  if (!region || pointer.kind !== 's3' || pointer.locations.length < 2) return record;
  const index = pointer.locations.findIndex((l) => l.region === region);
  if (index <= 0) return record;
  const locations: S3Location[] = [
    pointer.locations[index]!,
    ...pointer.locations.filter((_, i) => i !== index),
  ];
  return { ...record, pointer: { kind: 's3', locations } };
}

export function closestFirstUpdate(update: PollUpdate, region: string | undefined): PollUpdate {
  const record = closestFirst(update.record, region);
  return record === update.record ? update : { ...update, record };
}
