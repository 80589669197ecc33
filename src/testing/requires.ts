/**
 * Tests that need something a fresh machine may lack (Chromium, etcd, root for network namespaces):
 * on a developer's machine they are skipped with a printed reason, so the README's `npm test` passes
 * with only Node installed; in CI (CI=true), where .ci/run installs everything, they are required, so a
 * missing install step fails the run instead of hiding behind a skip. `BALLOT_REQUIRE_<NAME>=1` (for
 * example BALLOT_REQUIRE_BROWSER=1) requires one of them outside CI, for a developer who installed it.
 */
export function requires(present: boolean, reason: string, name?: string): { readonly skip: string | false } {
  const requiredByName = name !== undefined && process.env[`BALLOT_REQUIRE_${name.toUpperCase()}`] === '1';
  if (present || process.env['CI'] === 'true' || requiredByName) return { skip: false };
  return { skip: `${reason} (CI installs it; see .ci/run)` };
}
