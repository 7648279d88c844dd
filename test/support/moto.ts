/** Starts the project's pinned moto server (from .venv, made by scripts/setup.sh) on a free 127.0.0.1 port. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { freePort } from './ports.js';

export interface MotoServer {
  endpoint: string;
  stop(): Promise<void>;
}

export async function startMoto(): Promise<MotoServer> {
  const bin = resolve('.venv/bin/moto_server');
  if (!existsSync(bin)) throw new Error('moto is not installed: run `bash scripts/setup.sh` first');
  const port = await freePort();
  const child: ChildProcess = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited: ${stderr}`);
    try {
      const r = await fetch(`${endpoint}/moto-api/`);
      if (r.status < 500) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`moto_server did not start within 30 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    stop: () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGTERM');
      }),
  };
}
