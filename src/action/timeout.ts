/** Bounds a long operation by the timeout-minutes input: aborts it and fails with what it was doing. */
import { ActionError } from './errors.js';

export async function withTimeout<T>(
  what: string,
  minutes: number,
  lastStep: () => string,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const step = lastStep();
      const err = new ActionError(
        `${what} did not finish within timeout-minutes (${minutes}); it was at: ${step || 'its first step'}. ` +
          'Nothing is rolled back: run it again to continue, or raise timeout-minutes.',
      );
      controller.abort(err);
      reject(err);
    }, minutes * 60_000);
  });
  try {
    return await Promise.race([work(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}
