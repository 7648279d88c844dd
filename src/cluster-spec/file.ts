import { readFileSync } from 'node:fs';
import { type LoadResult, parseSpec } from './load.js';

/** Reads and validates a spec file; a missing or unreadable file is a problem like any other. */
export function loadSpecFile(file: string): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EISDIR'
          ? 'is a directory'
          : String((e as Error).message);
    return { ok: false, problems: [{ file, line: 1, col: 1, path: '(file)', message: why }] };
  }
  return parseSpec(text, file);
}
