// Waits for something that happens in the background (a timer's flush, a log
// batch) instead of sleeping a fixed time that a loaded CI machine can overrun.

/** Polls `check` every `stepMs` until it holds or `timeoutMs` passes; says whether it held. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 20): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, stepMs))) {
    if (await check()) return true;
    if (Date.now() > end) return false;
  }
}
