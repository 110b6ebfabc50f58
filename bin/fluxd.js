#!/usr/bin/env node
// `fluxd [options]` is `flux node run [options]`.
import { main } from '../src/cli/flux.ts';

process.exitCode = await main(['node', 'run', ...process.argv.slice(2)]);
