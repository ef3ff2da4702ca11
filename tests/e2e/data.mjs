// Where the browser tests find the data sets, and what a missing one means. `cargo xtask`
// resolves the data directory with the same locator as the CLI and the Rust tests
// (models/src/data/locate.rs: --data, $HAPSCOPE_DATA, ../shared/data) and passes it as
// HAPSCOPE_DATA; run by hand (from the repository root), $HAPSCOPE_DATA or ../shared/data.

/** The data directory (holding mnist/ and cifar10/). */
export const DATA = process.env.HAPSCOPE_DATA || '../shared/data';

/** Whether these tests run under CI: `CI` set to anything but empty, `false` or `0` (as `locate::in_ci`). */
export function inCI() {
  const v = (process.env.CI ?? '').trim();
  return !(v === '' || v.toLowerCase() === 'false' || v === '0');
}

/**
 * For checks needing third-party data: true when `present`; otherwise prints
 * `skipped: <why>` and returns false — except under CI, where it throws (a missing data set
 * fails the suite there instead of passing).
 */
export function requireOrSkip(present, why) {
  if (present) return true;
  if (inCI()) throw new Error(`${why}\nCI is set, so a missing data set fails instead of skipping (set HAPSCOPE_DATA / HAPSCOPE_MODELS)`);
  console.log(`skipped: ${why}`);
  return false;
}
