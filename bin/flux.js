#!/usr/bin/env node
// Launcher: Node runs the TypeScript source directly (type stripping).
import { main } from '../src/cli/flux.ts';

process.exitCode = await main(process.argv.slice(2));
