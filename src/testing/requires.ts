/**
 * Tests that need something a fresh machine may lack (Chromium, etcd, root for network namespaces):
 * on a developer's machine they are skipped with a printed reason, so the README's `npm test` passes
 * with only Node installed; in CI (CI=true), where .ci/run installs everything, they are required, so a
 * missing install step fails the run instead of hiding behind a skip.
 */
export function requires(present: boolean, reason: string): { readonly skip: string | false } {
  if (present || process.env['CI'] === 'true') return { skip: false };
  return { skip: `${reason} (CI installs it; see .ci/run)` };
}
