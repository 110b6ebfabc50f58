// Starts the `flux` command with a Node.js that runs TypeScript (24 or newer). Under an older
// Node (Debian's 20, say) it runs itself again with the Node 24 that `npm install` brought
// (the npm package `node`), so `flux` works whatever `node` is first on the PATH.
// Plain JavaScript that Node 18 and later can parse: this file is what they load first.
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIN_MAJOR = 24;

function runsTypeScript() {
  const major = Number(process.versions.node.split('.')[0]);
  return major >= MIN_MAJOR && Boolean(process.features?.typescript);
}

/** Runs `flux PREFIX... ARGS...` and sets the exit code. */
export async function launch(prefix) {
  const args = [...prefix, ...process.argv.slice(2)];
  if (runsTypeScript()) {
    const { main } = await import('../src/cli/flux.ts');
    process.exitCode = await main(args);
    return;
  }
  // Through `npm link` this file is reached by a symlink: find the checkout it lives in.
  const root = join(dirname(realpathSync(fileURLToPath(import.meta.url))), '..');
  const node = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(node)) {
    process.stderr.write(
      `flux: this is Node.js ${process.version}; flux needs Node.js ${MIN_MAJOR} or newer.\n` +
        `Run \`npm install\` in ${root} (it brings Node ${MIN_MAJOR}), or put Node ${MIN_MAJOR} first on the PATH.\n`,
    );
    process.exitCode = 1;
    return;
  }
  const child = spawn(node, [join(root, 'src', 'cli', 'flux.ts'), ...args], { stdio: 'inherit' });
  // Ctrl-C reaches both processes through the terminal; a signal sent to this one alone
  // (`kill PID`) is passed on, and this process ends when the child does.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (child.exitCode === null) child.kill(signal);
    });
  }
  await new Promise((resolve) => {
    child.on('error', (e) => {
      process.stderr.write(`flux: cannot start ${node}: ${e.message}\n`);
      process.exitCode = 1;
      resolve();
    });
    child.on('exit', (code, signal) => {
      if (signal) {
        process.removeAllListeners(signal);
        process.kill(process.pid, signal);
      }
      process.exitCode = code ?? 1;
      resolve();
    });
  });
}
