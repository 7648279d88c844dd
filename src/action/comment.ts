/**
 * The pull-request comment: ONE per cluster, found again by a hidden marker, always below GitHub's
 * 65,536-character limit (trimmed at a line, code fences closed, with a pointer to the job summary).
 */

import { fenceOf } from '../text/escape.js';

/** GitHub rejects issue comments longer than this. */
export const GITHUB_COMMENT_LIMIT = 65_536;

/** GitHub shows at most 1 MiB of job summary per step. */
export const JOB_SUMMARY_LIMIT = 1_000_000;

/** The hidden marker that identifies the plan comment of one cluster. */
export const commentMarker = (cluster: string) => `<!-- tripod-plan:${cluster} -->`;

/**
 * Cuts `markdown` so that it, plus the trim note, fits in `limit` characters. Cuts at a line end,
 * closes a code block left open, and says how much was left out and where the full text is.
 */
export function trimMarkdown(markdown: string, limit: number, fullTextAt: string): string {
  if (markdown.length <= limit) return markdown;
  const note = (omitted: number) =>
    `\n\n> [!NOTE]\n> Trimmed to fit GitHub's comment limit: ${omitted.toLocaleString('en-US')} characters left out. ${fullTextAt}\n`;
  // Reserve room for the note (its number can be at most as long as the text's length) and a fence.
  const fence = markdown.split('\n').reduce((m, l) => Math.max(m, fenceOf(l)?.length ?? 0), 3);
  const reserve = note(markdown.length).length + 1 + fence;
  let kept = markdown.slice(0, Math.max(0, limit - reserve));
  const lastNewline = kept.lastIndexOf('\n');
  if (lastNewline > 0) kept = kept.slice(0, lastNewline);
  // A fence left open is closed with its own kind and length (CommonMark: a run at least as long).
  let open: string | undefined;
  for (const line of kept.split('\n')) {
    const f = fenceOf(line);
    if (!f) continue;
    if (open === undefined) open = f;
    else if (f[0] === open[0] && f.length >= open.length && line.trim() === f) open = undefined;
  }
  if (open !== undefined) kept += `\n${open}`;
  return kept + note(markdown.length - kept.length);
}

/** The full comment body for a cluster: marker first, then the content, trimmed to the limit. */
export function commentBody(
  cluster: string,
  content: string,
  runUrl: string | undefined,
  limit = GITHUB_COMMENT_LIMIT,
): string {
  const marker = commentMarker(cluster);
  const pointer = runUrl
    ? `The full plan is in the [job summary](${runUrl}).`
    : 'The full plan is in the job summary of this run.';
  return trimMarkdown(`${marker}\n${content}`, limit - 1, pointer);
}
