import t from 'tap';
import { PAGE_HEADERS } from '../../src/web/security-headers.ts';

t.test('page headers are the strict set', async (t) => {
  t.equal(
    PAGE_HEADERS['Content-Security-Policy'],
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  );
  t.notMatch(PAGE_HEADERS['Content-Security-Policy'], /unsafe-|https?:|\*/, 'no inline, eval, wildcard or external origin');
  t.equal(PAGE_HEADERS['X-Frame-Options'], 'DENY');
  t.equal(PAGE_HEADERS['Referrer-Policy'], 'no-referrer');
  t.equal(PAGE_HEADERS['X-Content-Type-Options'], 'nosniff');
  t.equal(PAGE_HEADERS['Cache-Control'], 'no-store');
  t.equal(PAGE_HEADERS['Cross-Origin-Opener-Policy'], 'same-origin');
  t.equal(PAGE_HEADERS['Content-Type'], 'text/html; charset=utf-8');
  t.match(PAGE_HEADERS['Permissions-Policy'], /camera=\(\)/);
  t.notMatch(PAGE_HEADERS['Permissions-Policy'], /publickey-credentials/, 'WebAuthn keeps its default (self)');
  t.ok(Object.isFrozen(PAGE_HEADERS), 'frozen');
  t.throws(() => {
    (PAGE_HEADERS as Record<string, string>)['X-Frame-Options'] = 'ALLOW';
  }, TypeError);
});
