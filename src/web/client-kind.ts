// Browsers navigating get redirects to pages; everything else (fetch/XHR, API
// clients, curl) gets JSON with a status code it can act on.

import type { IncomingHttpHeaders } from 'node:http';

export function isNavigation(h: IncomingHttpHeaders): boolean {
  if (h['x-requested-with']) return false;
  const mode = h['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate';
  const accept = h.accept;
  return typeof accept === 'string' && accept.includes('text/html');
}
