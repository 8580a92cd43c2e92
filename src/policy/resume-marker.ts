// The resume marker: after a passed challenge the browser comes back to the
// stashed request's own target with `__gatehouse_resume=ID` added. Pure.
//
// The marker is honoured only on the exact target (path and query) the stash
// was made for, and the replay is decided for the stash's own method, path and
// parameters: put on any other URL it replays nothing (a marker on /static/x
// must not carry a stashed POST /billing/pay past the rule that guards it).

export const RESUME_PARAM = '__gatehouse_resume';

/** Splits the resume marker off a query string ('' or '?…'). */
export function splitResume(query: string): { id: string | undefined; query: string } {
  if (!query.includes(RESUME_PARAM)) return { id: undefined, query };
  const params = new URLSearchParams(query.slice(1));
  const id = params.get(RESUME_PARAM) ?? undefined;
  params.delete(RESUME_PARAM);
  const rest = params.toString();
  return { id, query: rest ? `?${rest}` : '' };
}

/** Where to send the browser after a passed challenge when a stash waits. */
export function resumeTarget(rd: string, stash: string): string {
  return `${rd}${rd.includes('?') ? '&' : '?'}${RESUME_PARAM}=${encodeURIComponent(stash)}`;
}

/** Whether a marker on this request (route, canonical path + query without the marker) may resume a stash made for `stashed`. */
export function markerHonoured(stashed: { route: number; target: string }, here: { route: number; target: string }): boolean {
  return stashed.route === here.route && stashed.target === here.target;
}
