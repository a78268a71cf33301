// Napping per app, set where Kamal users already configure their app: the
// `labels:` of deploy.yml, which Kamal puts on every app container. A label
// `kamal-napper.<flag>` sets our deploy flag `--<flag>` for that service.
import { parseGoBool } from '../util/go-bool.ts';
import { parseDurationOrSeconds } from '../util/go-duration.ts';
import { LABEL_PREFIX, NAP_FLAGS } from './nap-flags.ts';
import type { NapFlagSpec } from './nap-flags.ts';
import type { NapFlags } from '../config/nap-options.ts';

export class NapLabelError extends Error {}

const BY_LABEL = new Map(NAP_FLAGS.filter((f) => f.label).map((f) => [LABEL_PREFIX + f.name, f]));

// The nap flags a container's labels set; throws NapLabelError naming the
// label for an unknown name or a value that does not parse.
export function napFlagsFromLabels(labels: Readonly<Record<string, string>>, container: string): NapFlags {
  const flags: Record<string, unknown> = {};
  for (const [label, value] of Object.entries(labels)) {
    if (!label.startsWith(LABEL_PREFIX)) continue;
    const spec = BY_LABEL.get(label);
    const where = `label ${label}=${JSON.stringify(value)} on container ${container}`;
    if (spec === undefined) {
      throw new NapLabelError(`${where}: unknown setting (known: ${[...BY_LABEL.keys()].join(', ')})`);
    }
    try {
      flags[spec.key] = labelValue(spec, value);
    } catch (err) {
      throw new NapLabelError(`${where}: ${(err as Error).message}`);
    }
  }
  return flags as NapFlags;
}

function labelValue(spec: NapFlagSpec, value: string): number | string | boolean {
  switch (spec.type) {
    case 'duration':
      return parseDurationOrSeconds(value);
    case 'bool': {
      const b = parseGoBool(value.trim());
      if (b === undefined) throw new Error('expected true or false');
      return b;
    }
    case 'string':
      return value;
  }
}
