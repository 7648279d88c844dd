#!/usr/bin/env node
// The committed bundle: works right after `npm ci`, without a build.
import '../dist/cli/index.js';
