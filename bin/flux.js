#!/usr/bin/env node
// `flux`: runs the TypeScript CLI with Node 24 (see launch.js).
import { launch } from './launch.js';

await launch([]);
