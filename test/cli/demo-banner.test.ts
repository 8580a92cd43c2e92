// What `gatehouse demo` prints at start: where the emails go (the outbox file
// for the bundled file notifier) and how to see a step-up.

import t from 'tap';
import { demoBanner } from '../../src/cli/demo.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/types.ts';

t.test('the banner points at the email outbox and says how to see a step-up', async (t) => {
  const config = loadConfig('config/gatehouse.yaml');
  t.equal(config.notifier.kind, 'file', 'the bundled config writes emails to a file');
  const banner = demoBanner(config, 8081);
  t.match(banner, /Open http:\/\/localhost:8080\/ in a browser \(the demo portal on 127\.0\.0\.1:8081/);
  t.match(banner, /alice\s+password alice-demo-pass/);
  t.match(banner, /Emails \(sign-in codes, notices\) are not sent: they are written to data\/outbox\.log\n\s+\(watch it with: tail -f data\/outbox\.log\)/);
  t.match(banner, /"Approve on your phone" \(push\) writes its approval link there too/, 'push links are in the outbox too');
  t.notMatch(demoBanner({ ...config, factors: { ...config.factors, push: undefined } }, 8081), /Approve on your phone/, 'not mentioned without push');
  t.match(banner, /To see the step-up:\s+wait 5 minutes, or at a later second-factor page tick "Trust this browser"/);

  t.match(banner, /Adaptive MFA \(risk\) runs in report mode: what it would ask or deny is only logged/, 'the demo runs risk in report mode (the rollout guide\'s first step)');
  t.match(banner, /gatehouse explain --user alice --method GET --url \/ --ip 81\.2\.69\.142 --device new/);
  t.match(demoBanner({ ...config, risk: { ...config.risk, mode: 'enforce' } }, 8081), /Adaptive MFA \(risk\) is enforced/);
  t.notMatch(demoBanner({ ...config, risk: { ...config.risk, enabled: false } }, 8081), /Adaptive MFA/, 'not mentioned without risk');

  const smtp = { ...config, notifier: { kind: 'smtp', url: 'smtp://mail.example.com', from: 'gh@example.com' } } as Config;
  t.match(demoBanner(smtp, 8081), /Emails are sent through smtp/);
  t.notMatch(demoBanner(smtp, 8081), /outbox/, 'no outbox file when emails really go out');
});
