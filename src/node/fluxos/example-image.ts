// Builds the example app's image (examples/hello-web/Dockerfile) from Debian's busybox-static:
// no registry is needed, so devnets and CI can deploy it offline.
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';

export const EXAMPLE_IMAGE = 'openflux/hello-web:1';
export const EXAMPLE_DIR = join(import.meta.dirname, '..', '..', '..', 'examples', 'hello-web');
export const BUSYBOX = '/bin/busybox';

/** Builds `tag`; rejects with the reason (no busybox, a build error). */
export async function buildExampleImage(
  docker: Docker,
  opts: { tag?: string; busybox?: string } = {},
): Promise<string> {
  const tag = opts.tag ?? EXAMPLE_IMAGE;
  const ctx = await mkdtemp(join(tmpdir(), 'openflux-example-'));
  try {
    try {
      await copyFile(opts.busybox ?? BUSYBOX, join(ctx, 'busybox'));
    } catch {
      throw new Error(
        `${opts.busybox ?? BUSYBOX} not found: install it with apt-get install -y busybox-static`,
      );
    }
    await copyFile(join(EXAMPLE_DIR, 'Dockerfile'), join(ctx, 'Dockerfile'));
    const stream = await docker.buildImage({ context: ctx, src: ['Dockerfile', 'busybox'] }, { t: tag });
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string }>) => {
        const failed = out?.find((o) => o.error);
        if (err) reject(err);
        else if (failed) reject(new Error(`docker build: ${failed.error}`));
        else resolve();
      }),
    );
    // An earlier build of the example left untagged: remove it (only images with the example's label).
    await docker
      .pruneImages({ filters: { dangling: ['true'], label: ['org.openflux.example'] } })
      .catch(() => {});
    return tag;
  } finally {
    await rm(ctx, { recursive: true, force: true });
  }
}
