/**
 * User-data figures for every example spec and role: rendered size against EC2's 16 KB limit, the
 * scripts before and after compression, and the time to render. Run: `npx tsx bench/bootstrap.ts`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  encodeUserData,
  minifyShell,
  type NodeRole,
  ROLE_SCRIPTS,
  renderPayload,
  renderUserData,
  USER_DATA_LIMIT,
} from '../src/bootstrap/render.js';
import { BOOTSTRAP_SCRIPTS } from '../src/bootstrap/scripts.generated.js';
import { parseSpec } from '../src/cluster-spec/load.js';

const roles: NodeRole[] = ['master', 'worker'];
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

console.log('role    scripts (raw)  minified  payload gzip  sent (gz)  % of 16 KB  headroom');
for (const role of roles) {
  const raw = ROLE_SCRIPTS[role].reduce((n, f) => n + Buffer.byteLength(BOOTSTRAP_SCRIPTS[f]!), 0);
  const min = ROLE_SCRIPTS[role].reduce(
    (n, f) => n + Buffer.byteLength(minifyShell(BOOTSTRAP_SCRIPTS[f]!)),
    0,
  );
  const gz = gzipSync(renderPayload(role), { level: 9 }).length;
  for (const file of readdirSync('examples').filter((f) => f.endsWith('.yaml'))) {
    const r = parseSpec(readFileSync(join('examples', file), 'utf8'), file);
    if (!r.ok) throw new Error(`${file} does not parse`);
    const size = encodeUserData(renderUserData(r.spec, role)).length;
    console.log(
      `${role.padEnd(7)} ${kb(raw).padStart(13)}  ${kb(min).padStart(8)}  ${kb(gz).padStart(12)}  ${kb(size).padStart(9)}  ${((100 * size) / USER_DATA_LIMIT).toFixed(1).padStart(9)}%  ${kb(USER_DATA_LIMIT - size).padStart(8)}  (${file})`,
    );
  }
}

const spec = parseSpec(readFileSync('examples/three-zones.yaml', 'utf8'));
if (!spec.ok) throw new Error('examples/three-zones.yaml does not parse');
const n = 200;
const t0 = performance.now();
for (let i = 0; i < n; i++) renderUserData(spec.spec, i % 2 ? 'master' : 'worker');
console.log(`render: ${((performance.now() - t0) / n).toFixed(2)} ms per user data (mean of ${n})`);
