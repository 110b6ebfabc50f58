// Docker for tests: the engine when one answers. Without one, tests skip only when not root;
// as root (CI) they fail, since CI is expected to start the engine (scripts/ensure-docker.sh).
import Docker from 'dockerode';
import { buildExampleImage } from '../../../src/node/fluxos/example-image.ts';
import { LABELS } from '../../../src/node/fluxos/options.ts';

export async function testDocker(): Promise<{ docker?: Docker; skip?: string }> {
  const docker = new Docker();
  try {
    await docker.ping();
    return { docker };
  } catch (e) {
    const reason = `no Docker engine answers (${(e as Error).message})`;
    if (process.getuid?.() === 0) throw new Error(`${reason}; as root run scripts/ensure-docker.sh first`);
    console.log(`# SKIPPED Docker tests: ${reason} and not root`);
    return { skip: reason };
  }
}

let built: Promise<string> | undefined;
/** The example image, built once per process (Docker's cache makes a rebuild quick). */
export function exampleImage(docker: Docker): Promise<string> {
  built ??= buildExampleImage(docker);
  return built;
}

/** Removes every container this node id ran. */
export async function removeContainersOf(docker: Docker, nodeId: string): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABELS.node}=${nodeId}`] } });
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {}),
    ),
  );
}

/** Removes every app network and Docker volume of this node id (use with a random id: devnet ids repeat across tests). */
export async function removeNetworksOf(docker: Docker, nodeId: string): Promise<void> {
  const filters = { label: [`${LABELS.node}=${nodeId}`] };
  for (const n of await docker.listNetworks({ filters }))
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => {});
  const { Volumes } = await docker.listVolumes({ filters });
  for (const v of Volumes ?? [])
    await docker
      .getVolume(v.Name)
      .remove()
      .catch(() => {});
}
