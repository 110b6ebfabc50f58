#!/usr/bin/env node
// `fluxd [options]` is `flux node run [options]`.
import { launch } from './launch.js';

await launch(['node', 'run']);
