// Our deploy options, set where Kamal users already configure their app: the
// `labels:` of deploy.yml, which Kamal puts on every app container. A label
// `kamal-napper.<flag>` sets our deploy flag `--<flag>` for that service, for
// the flags the deploy option table marks `label` (Kamal only ever sends
// kamal-proxy's own flags). A flag given on the command line wins.
import { parseGoBool } from '../util/go-bool.ts';
import { parseDurationOrSeconds } from '../util/go-duration.ts';
import { DEPLOY_OPTIONS } from './deploy-options.ts';
import type { DeployOption } from './deploy-options.ts';
import type { NapFlags } from './nap-options.ts';
import type { TargetOptions } from './service-options.ts';

export const LABEL_PREFIX = 'kamal-napper.';

export class LabelError extends Error {}

type LabelRow = Extract<DeployOption, { label: true }>;

// Labels set nap and target options only (checked at start, not per deploy).
for (const row of DEPLOY_OPTIONS as readonly { flag: string; where: string; label?: boolean }[]) {
  if (row.label === true && row.where !== 'nap' && row.where !== 'target') throw new Error(`label row ${row.flag}: only nap and target options may be labels`);
}

const BY_LABEL = new Map<string, LabelRow>(
  DEPLOY_OPTIONS.filter((row): row is LabelRow => 'label' in row && row.label === true).map((row) => [LABEL_PREFIX + row.flag, row]),
);

// What a container's labels set, by where it lives.
export interface LabelledOptions {
  nap: NapFlags;
  target: Partial<Record<keyof TargetOptions, unknown>>;
}

// Throws LabelError naming the label for an unknown name or a value that
// does not parse.
export function optionsFromLabels(labels: Readonly<Record<string, string>>, container: string): LabelledOptions {
  const out: LabelledOptions = { nap: {}, target: {} };
  for (const [label, value] of Object.entries(labels)) {
    if (!label.startsWith(LABEL_PREFIX)) continue;
    const row = BY_LABEL.get(label);
    const where = `label ${label}=${JSON.stringify(value)} on container ${container}`;
    if (row === undefined) throw new LabelError(`${where}: unknown setting (known: ${[...BY_LABEL.keys()].join(', ')})`);
    let parsed: unknown;
    try {
      parsed = labelValue(row, value);
    } catch (err) {
      throw new LabelError(`${where}: ${(err as Error).message}`);
    }
    const section: Record<string, unknown> = (row.where as string) === 'nap' ? out.nap : out.target;
    section[row.key] = parsed;
  }
  return out;
}

export function napFlagsFromLabels(labels: Readonly<Record<string, string>>, container: string): NapFlags {
  return optionsFromLabels(labels, container).nap;
}

// The target options with what labels set, except where a flag was given.
export function withLabelled(options: TargetOptions, labelled: LabelledOptions['target'], flagsGiven: readonly string[]): TargetOptions {
  let out = options;
  for (const row of BY_LABEL.values()) {
    if ((row.where as string) !== 'target' || !(row.key in labelled) || flagsGiven.includes(row.flag)) continue;
    out = { ...out, [row.key]: labelled[row.key as keyof TargetOptions] };
  }
  return out;
}

// The flags given that a label could otherwise set (nap flags travel on
// their own): the server needs to know which values a label may not replace.
export function labelFlagsGiven(given: ReadonlySet<string>): string[] {
  return [...BY_LABEL.values()].filter((row) => row.where !== 'nap' && given.has(row.flag)).map((row) => row.flag);
}

// Durations also take plain seconds, as the napping config does; a list is
// comma-separated.
function labelValue(row: LabelRow, value: string): unknown {
  const type: string = row.type;
  switch (type) {
    case 'duration':
      return parseDurationOrSeconds(value);
    case 'bool': {
      const b = parseGoBool(value.trim());
      if (b === undefined) throw new Error('expected true or false');
      return b;
    }
    case 'int':
    case 'int64': {
      if (!/^\s*\d+\s*$/.test(value)) throw new Error('expected a whole number');
      return Number(value);
    }
    case 'stringSlice':
      return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    default:
      return value;
  }
}
