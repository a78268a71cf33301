// `kamal-proxy deploy <service>`: flags, defaults and client-side checks as in
// kamal-proxy's internal/cmd/deploy.go. The flags and the options they set
// are the deploy option table (src/config/deploy-options.ts); what is here is
// the rules that tie one flag to another.
import { join } from 'node:path';
import { LETS_ENCRYPT_STAGING_URL } from '../config/defaults.ts';
import { DEPLOY_OPTIONS, buildOptions, optionsAt } from '../config/deploy-options.ts';
import type { OptionByFlag, OptionFlag, OptionValue, OptionValues, SameFields } from '../config/deploy-options.ts';
import type { NapFlags } from '../config/nap-options.ts';
import { labelFlagsGiven } from '../config/option-labels.ts';
import { dataDir, socketPath } from '../config/paths.ts';
import { call } from '../control/client.ts';
import type { DeployParams } from '../control/protocol.ts';
import { validateServiceOptions, validateTargetOptions } from '../service/validate.ts';
import { UsageError } from './command.ts';
import type { Command } from './command.ts';
import type { FlagSpec, ParsedFlags } from './flags.ts';

true satisfies SameFields<Pick<DeployParams, keyof OptionValues<'deploy'>>, OptionValues<'deploy'>>;

export const deployFlags: FlagSpec[] = DEPLOY_OPTIONS.map(({ flag, type, default: value, usage }) => ({
  name: flag,
  type,
  default: typeof value === 'object' ? [...value] : value,
  usage,
}));

export function buildDeployParams(service: string, f: ParsedFlags, env: NodeJS.ProcessEnv = process.env): DeployParams {
  const given = (flag: OptionFlag): boolean => f.given.has(flag);
  const value = <F extends OptionFlag>(flag: F) => f.values[flag] as OptionValue<OptionByFlag<F>>;
  const read = (row: { flag: string }) => f.values[row.flag];

  // In kamal-proxy's order: cobra's required flag and flag group, then its
  // pre-run (the buffering limits, then the service options).
  if (!given('target')) throw new UsageError('required flag(s) "target" not set');
  if (given('tls-certificate-path') !== given('tls-private-key-path')) {
    const missing = given('tls-certificate-path') ? 'tls-private-key-path' : 'tls-certificate-path';
    throw new UsageError(
      `if any flags in the group [tls-certificate-path tls-private-key-path] are set they must all be set; missing [${missing}]`,
    );
  }
  // As in kamal-proxy, what counts is whether the flag was given, not its value.
  if (given('max-request-body') && !given('buffer-requests')) {
    throw new UsageError('max-request-body can only be set when request buffering is enabled');
  }
  if (given('max-response-body') && !given('buffer-responses')) {
    throw new UsageError('max-response-body can only be set when response buffering is enabled');
  }

  const serviceOptions = buildOptions('service', read);
  serviceOptions.acmeDirectory ||= value('tls-staging') ? LETS_ENCRYPT_STAGING_URL : '';
  // Worked out here, in the client, as kamal-proxy does.
  serviceOptions.acmeCachePath ||= join(dataDir(env), 'certs');
  const targetOptions = { healthCheck: buildOptions('healthCheck', read), ...buildOptions('target', read) };
  // Unless given, trust incoming X-Forwarded-* only for non-TLS services.
  if (!given('forward-headers')) targetOptions.forwardHeaders = !serviceOptions.tlsEnabled;
  validateServiceOptions(serviceOptions);
  validateTargetOptions(targetOptions);
  if (value('nap-command') && value('nap-container')) {
    throw new UsageError('--nap-command and --nap-container are mutually exclusive: an app is a process or a container');
  }
  return { service, ...buildOptions('deploy', read), serviceOptions, targetOptions, nap: givenNapFlagsOf(f), flagsGiven: labelFlagsGiven(f.given) };
}

// The nap flags given on the command line, or null when none was: then
// labels and the proxy's defaults decide whether the service naps.
function givenNapFlagsOf(f: ParsedFlags): NapFlags | null {
  const given = optionsAt('nap').filter((row) => f.given.has(row.flag));
  if (given.length === 0) return null;
  return Object.fromEntries(given.map((row) => [row.key, f.values[row.flag]])) as NapFlags;
}

export const deployCommand: Command = {
  name: 'deploy',
  summary: 'Deploy a target host',
  usage: 'deploy <service>',
  args: 1,
  flags: deployFlags,
  async action(f) {
    await call(socketPath(), 'deploy', buildDeployParams(f.args[0]!, f));
    return 0;
  },
};
