// The break-glass alert to audit.alert_email through the real gateway: in
// ui.default_language, its time written as that language writes it in
// ui.time_zone (identity/messages.ts formatMoment), never an ISO UTC stamp.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestGateway, Client } from '../helpers/gateway.ts';
import { eventually } from '../helpers/eventually.ts';
import { hashPassword } from '../../src/identity/password-hash.ts';
import { formatMoment } from '../../src/identity/messages.ts';

t.test('the break-glass alert says when, in German and Berlin time', async (t) => {
  const f = await startTestGateway({
    config: {
      identity: { break_glass: { user: 'emergency', password: await hashPassword('glass-emergency-pass'), enabled: true } },
      ui: { languages: ['de'], time_zone: 'Europe/Berlin' },
      audit: { alert_email: 'ops@example.com' },
    },
  });
  t.teardown(() => f.close());
  f.clock.hold(); // the minute the alert names is the one computed below
  t.equal((await new Client(f.url).signIn('emergency', 'glass-emergency-pass', '/')).status, 303, 'enabled in config: let in');
  const read = () => readFileSync(join(f.dir, 'outbox.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { to: string; kind: string; text: string });
  let alert: { to: string; kind: string; text: string } | undefined;
  await eventually(() => {
    try { alert = read().find((m) => m.kind === 'breakglass_used'); } catch { /* not written yet */ }
    return alert !== undefined;
  }, 10_000);
  t.equal(alert?.to, 'ops@example.com');
  const when = formatMoment(f.clock.now(), 'de', 'Europe/Berlin');
  t.match(when, /^\d+\. \S+ \d{4} um \d\d:\d\d (MEZ|MESZ)$/, 'German, with the zone named');
  t.match(alert?.text, `Das Notfallkonto „emergency“ hat sich von 127.0.0.1 angemeldet (${when}; enabled in config).`);
  t.notMatch(alert?.text, /\d{4}-\d\d-\d\dT|UTC/, 'no ISO stamp, no UTC');
});
