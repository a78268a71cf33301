// Says, once at start, why a proxy run with Docker access cannot use it and
// exactly what to add. Inside Kamal's proxy container the mounted socket
// belongs to the host's `docker` group, which the container user is not in.
import { fs } from '../util/node-fs.ts';
import type { DockerEngine } from './engine.ts';

export async function dockerAccessProblem(engine: DockerEngine): Promise<string | null> {
  try {
    await engine.reach();
    return null;
  } catch (err) {
    const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'EACCES' && engine.socketPath !== '') return permissionProblem(engine.socketPath);
    if (code === 'ENOENT' && engine.socketPath !== '') {
      return `no Docker socket at ${engine.socketPath}: mount it into the proxy container (Kamal: proxy.run.options volume: ["/var/run/docker.sock:/var/run/docker.sock"]); napping apps cannot be stopped or started until then`;
    }
    return `the Docker Engine at ${engine.address} does not answer (${(err as Error).message}); napping apps cannot be stopped or started until it does`;
  }
}

function permissionProblem(socketPath: string): string {
  let gid: number | null = null;
  try {
    gid = fs.statSync(socketPath).gid;
  } catch {}
  const uid = process.getuid?.() ?? -1;
  const group = gid === null ? 'the group that owns it' : `its group ${gid}`;
  const add = gid === null ? '<gid of the socket>' : String(gid);
  return (
    `permission denied on ${socketPath}: this proxy runs as uid ${uid}, which is not in ${group}. ` +
    `Add the group to the proxy container: Kamal proxy.run.options group-add: "${add}" (docker run --group-add ${add}), then kamal proxy reboot`
  );
}
