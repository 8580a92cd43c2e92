// The nginx and Caddy configs the README shows are the files the forward-auth
// tests run against real nginx and Caddy (examples/): a copy that drifts would
// hand operators an untested config.

import { readFileSync } from 'node:fs';
import t from 'tap';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

for (const [file, fence] of [['examples/nginx/gatehouse.conf', 'nginx'], ['examples/caddy/Caddyfile', 'caddy']] as const) {
  t.test(`README shows ${file} as it is`, async (t) => {
    const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8').trimEnd();
    const at = readme.indexOf(`\`${file}\`:\n\n\`\`\`${fence}\n`);
    t.not(at, -1, `README introduces ${file} with a ${fence} block`);
    const start = readme.indexOf('\n', readme.indexOf(`\`\`\`${fence}`, at)) + 1;
    const shown = readme.slice(start, readme.indexOf('\n```', start));
    t.equal(shown, text, 'the block is the file, line for line');
  });
}
