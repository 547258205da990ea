// Chromium for the browser tests: how it is launched, and a bound on the
// Playwright calls that have no timeout of their own (newPage, close, a CDP
// call, ...). A stalled browser then fails the test in seconds with the step
// named, instead of holding the file until the test runner's own timeout.
//
//   const browser = await chromium.launch(LAUNCH);
//   const page = await bounded(context.newPage(), 'newPage for /login');
//   await closeQuietly(context, 'the browser context'); // in cleanup: logs, never throws
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The bound of one such call: generous, as a healthy one takes well under a second. */
export const CALL_MS = 20_000;

const FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // Optimization hints and the models Chromium fetches and runs for them (its
  // "on-device model" utility process): background work no test needs.
  // chromium.sh joins this switch to Playwright's own --disable-features.
  '--disable-features=OptimizationGuideModelDownloading,OptimizationHintsFetching,'
    + 'OptimizationTargetPrediction,OptimizationHints,OnDeviceModelService',
];

/** Options for chromium.launch() and chromium.launchPersistentContext(). */
export const LAUNCH = Object.freeze({
  executablePath: path.join(path.dirname(fileURLToPath(import.meta.url)), 'chromium.sh'),
  headless: true,
  args: FLAGS,
  timeout: 30_000,
});

/**
 * The promise's outcome, or an Error "<step> did not finish in <ms>" once ms
 * have passed. The timer is cleared either way.
 */
export async function bounded(promise, step, ms = CALL_MS) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${step} did not finish in ${ms % 1000 ? `${ms} ms` : `${ms / 1000} s`}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * For cleanup: closes a page, context or browser (if any), bounded. A stall
 * or an error is logged, not thrown, so that the rest of the cleanup runs.
 */
export async function closeQuietly(target, what, ms = CALL_MS) {
  if (!target) return;
  try {
    await bounded(target.close(), `close of ${what}`, ms);
  } catch (err) {
    console.error(`cleanup goes on after a failed close of ${what}: ${err.message}`);
  }
}
