// The filters a service's responses pass through, assembled once per target
// at deploy from its options. The order, from the upstream towards the
// client, is the order of the list.
import type { TargetOptions } from '../config/service-options.ts';
import { compressResponses } from '../accel/compression.ts';
import { xSendfile } from '../accel/x-sendfile.ts';
import { bufferResponses } from './buffered-response.ts';
import { storeResponses } from '../accel/http-cache/cache-store.ts';
import type { ResponseFilter } from '../http/response-sink.ts';

export function responseFilters(o: TargetOptions): ResponseFilter | null {
  const filters: ResponseFilter[] = [];
  // The app's worker is free once its answer is held here.
  if (o.bufferResponses) filters.push(bufferResponses(o));
  // The app names a file; what follows sees the file, not the app's body.
  if (o.xSendfileRoots.length > 0) filters.push(xSendfile(o));
  // Compressed once, before a cache keeps it.
  if (o.compress) filters.push(compressResponses(o));
  // Last: the cache keeps what the client gets.
  if (o.httpCache) filters.push(storeResponses());
  return chainFilters(filters);
}

// One filter that runs the list in order: the first sees the upstream's
// response first. No filters: null, and responses go straight to the client.
export function chainFilters(filters: readonly ResponseFilter[]): ResponseFilter | null {
  if (filters.length === 0) return null;
  if (filters.length === 1) return filters[0]!;
  return (next, owner) => filters.reduceRight((sink, filter) => filter(sink, owner), next);
}
