/**
 * Whether something a test needs from the machine is here (a tool, the native addon, root), for
 * the test to skip on when it is not. Locally a missing component skips the tests that need it;
 * under CI=true this throws instead, failing the test file: CI provisions every component
 * (.ci/run), so a missing one there is a broken CI, not a reason to skip. The same rule as
 * runtimesOrSkip (test/helpers/runtimes.ts); test/README.md lists every gate.
 *
 *   const haveKubectl = presentOrSkip(findKubectl() !== undefined, 'kubectl', 'put kubectl on PATH');
 *   it.skipIf(!haveKubectl)('renders the same objects as kubectl kustomize', …);
 */
export function presentOrSkip(present: boolean, what: string, howToGetIt: string): boolean {
  if (!present && process.env['CI'] === 'true') throw new Error(`CI=true and ${what} is missing: ${howToGetIt}`);
  return present;
}
