/**
 * Text tripod prints, escaped for where it is printed: the workflow log (GitHub reads lines that
 * start with `::` or `##[` as workflow commands), Markdown (job summary, pull-request comment) and
 * single lines of plain text. Values come from the spec, from AWS (names, tags, error messages) and
 * from the reconciler's status document: none of them may add a command, a fence, a table cell, HTML,
 * a link or a mention. One place for these rules; the renderers call them for every value they
 * interpolate.
 */
import { randomUUID } from 'node:crypto';

/** A line the runner would treat as a workflow command (it trims leading whitespace first). */
const COMMAND_LINE = /^\s*(::|##\[)/m;

/**
 * `text` for the log as it is, unless a line of it would be read as a workflow command: then it is
 * wrapped in `::stop-commands::<token>` ... `::<token>::`, GitHub's way to print such text verbatim
 * (the token is random, so the text cannot end the pause itself).
 */
export function logText(text: string, token: string = randomUUID()): string {
  // \r alone ends a line for the runner's reader too
  const t = text.replace(/\r(?!\n)/g, '\n');
  if (!COMMAND_LINE.test(t)) return t;
  return `::stop-commands::${token}\n${t}\n::${token}::`;
}

const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** One line: control characters (newlines, tabs, escapes, line separators) shown as JSON escapes. */
export function oneLine(s: string): string {
  return s.replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Plain Markdown text inside a line (never at its start): one line, every character that opens a
 * construct there escaped (emphasis, code, links, images, HTML and entities, table cells,
 * strikethrough), `@` kept from mentioning anyone.
 */
export function mdText(s: string): string {
  return oneLine(s)
    .replace(/[\\`*_[\]|~<>&]/g, (c) => `\\${c}`)
    .replace(/@/g, '@\u200b');
}

/** A table cell: mdText (which escapes `|` too). */
export const mdCell = mdText;

/**
 * Inline code (outside tables: in a cell use mdCell): a backtick run longer than any inside
 * (CommonMark), padded when the text starts or ends with a backtick.
 */
export function mdCode(s: string): string {
  const text = oneLine(s);
  const fence = '`'.repeat(longestRun(text) + 1);
  const pad = text.startsWith('`') || text.endsWith('`') || text === '' ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/**
 * A fenced code block whose body no line can close: its fence is a backtick run longer than any in
 * the body (CommonMark closes a fence only with a run at least as long).
 */
export function mdFence(body: string, info = ''): string {
  const fence = '`'.repeat(Math.max(3, longestRun(body) + 1));
  return `${fence}${info}\n${body.replace(/\r(?!\n)/g, '\n')}\n${fence}`;
}

/** The longest run of backticks in `s`. */
function longestRun(s: string): number {
  let longest = 0;
  for (const run of s.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  return longest;
}

/** The fence a line opens or closes (` ``` `, ` ~~~~ `), or undefined. */
export function fenceOf(line: string): string | undefined {
  return /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
}

/**
 * A word for a shell command tripod suggests (`tripod restore -f <file> ...`): as it is when it holds
 * only characters no shell treats specially, else single-quoted (a `'` inside as `'\''`).
 */
export function shQuote(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
