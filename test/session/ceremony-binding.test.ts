// ceremonyBinding: the browser a signed-in session's pending ceremonies
// (authenticator-app setup, WebAuthn challenges) are bound to.

import t from 'tap';
import { anonymousSession, ceremonyBinding, signedInSession, withFactor } from '../../src/session/session-data.ts';
import { factorCheck } from '../../src/factors/types.ts';

t.test('ceremonyBinding: the registry id, kept across step-ups; the session id before registry ids', async (t) => {
  const s = signedInSession('alice', ['pwd'], [], 1_000);
  const stepped = withFactor(s, factorCheck('totp', 2_000));
  const other = signedInSession('alice', ['pwd'], [], 1_000);
  const cases: Array<[string, { sid: string; rid?: string }, string]> = [
    ['a signed-in session: its registry id', s, s.rid!],
    ['after a step-up (new session id): the same', stepped, s.rid!],
    ['another sign-in of the same user: its own', other, other.rid!],
    ['sealed before registry ids: its session id (its registry id once adopted)', { sid: 'old-sid' }, 'old-sid'],
    ['adopted: rid = sid', { sid: 'old-sid', rid: 'old-sid' }, 'old-sid'],
  ];
  for (const [label, session, bind] of cases) t.equal(ceremonyBinding(session), bind, label);
  t.not(stepped.sid, s.sid, 'the step-up did rotate the session id');
  t.not(ceremonyBinding(other), ceremonyBinding(s), 'two sign-ins never share a binding');
  const anon = anonymousSession(1_000);
  t.equal(ceremonyBinding(anon), anon.sid, 'an anonymous session: its session id');
});
