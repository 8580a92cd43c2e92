import t from 'tap';
import { cookieSentBack, readCookie, setsGatewayCookie } from '../../src/proxy/cookies.ts';

// What a browser stores from a Set-Cookie line and sends back in Cookie (RFC 6265bis §5.6).
const sentBack: Array<[setCookie: string, sent: string]> = [
  ['a=1; Path=/', 'a=1'],
  ['a=1', 'a=1'],
  [' a = 1 ; Path=/', 'a=1'],
  ['a=', 'a='],
  ['a=b=c; Path=/', 'a=b=c'],
  ['a=x y', 'a=x y'],
  ['=gatehouse=x; Path=/', 'gatehouse=x'],
  [' = gatehouse=x ; Path=/', 'gatehouse=x'],
  ['=x', 'x'],
  ['bare; Path=/', 'bare'],
  ['bare', 'bare'],
  ['=', ''],
  ['', ''],
  ['bare; gatehouse=x', 'bare'],
];

t.test('cookieSentBack: name and value trimmed, a nameless cookie sent as its bare value', async (t) => {
  for (const [setCookie, sent] of sentBack) t.equal(cookieSentBack(setCookie), sent, JSON.stringify(setCookie));
});

// [Set-Cookie, gateway cookie name, dropped]
const lines: Array<[setCookie: string, name: string, dropped: boolean]> = [
  // Named: the gateway's own names, exactly.
  ['gatehouse=forged; Path=/', 'gatehouse', true],
  [' gatehouse =forged; Path=/', 'gatehouse', true],
  ['gatehouse_device=forged', 'gatehouse', true],
  ['gatehouse.1=forged', 'gatehouse', true],
  ['gatehouse=', 'gatehouse', true],
  ['__Host-gatehouse=forged; Path=/; Secure', '__Host-gatehouse', true],
  ['__Secure-gh=forged; Secure', '__Secure-gh', true],
  // Nameless (empty name, or no '=' before the first ';'): the value is what the browser sends.
  ['=gatehouse=forged; Path=/', 'gatehouse', true],
  ['= gatehouse=forged ; Path=/', 'gatehouse', true],
  [' =\tgatehouse=forged', 'gatehouse', true],
  ['=gatehouse_device=forged', 'gatehouse', true],
  ['=gatehouse.0=forged', 'gatehouse', true],
  ['=__Host-gatehouse=forged; Secure; Path=/', '__Host-gatehouse', true],
  ['=gatehouse=', 'gatehouse', true],
  ['gatehouse; Path=/', 'gatehouse', true],
  // A value with a space: readCookie starts a cookie after it, named or nameless.
  ['=x gatehouse=forged', 'gatehouse', true],
  ['app=x gatehouse=forged; Path=/', 'gatehouse', true],
  ['app=x\tgatehouse_device=forged', 'gatehouse', true],
  // The app's own cookies pass.
  ['JSESSIONID=abc; Path=/; HttpOnly', 'gatehouse', false],
  ['=abc; Path=/', 'gatehouse', false],
  ['abc; Path=/', 'gatehouse', false],
  ['app=gatehouse=x', 'gatehouse', false],
  ['=app=gatehouse=x', 'gatehouse', false],
  ['app=1; Path=/gatehouse=x', 'gatehouse', false],
  ['app=1; gatehouse=x', 'gatehouse', false],
  ['gatehouse2=x', 'gatehouse', false],
  ['mygatehouse=x', 'gatehouse', false],
  ['=mygatehouse=x', 'gatehouse', false],
  ['gatehouse-device=x', 'gatehouse', false],
  // The gateway reads its names in exact case; another case is another cookie.
  ['GATEHOUSE=x', 'gatehouse', false],
  ['=Gatehouse=x', 'gatehouse', false],
  ['__host-gatehouse=x', '__Host-gatehouse', false],
  ['gatehouse=x', '__Host-gatehouse', false],
  ['=gatehouse=x', '__Host-gatehouse', false],
];

t.test('setsGatewayCookie: an upstream Set-Cookie is dropped when the browser would send back a gateway cookie', async (t) => {
  for (const [setCookie, name, dropped] of lines) t.equal(setsGatewayCookie(setCookie, name), dropped, `${JSON.stringify(setCookie)} (${name})`);
});

t.test('setsGatewayCookie agrees with readCookie: whatever passes, the gateway does not read as its cookie', async (t) => {
  for (const [setCookie, name, dropped] of lines) {
    if (dropped) continue;
    const header = `other=1; ${cookieSentBack(setCookie)}; last=2`;
    t.equal(readCookie(header, name), undefined, `${JSON.stringify(header)}: no ${name}`);
    t.equal(readCookie(header, `${name}_device`), undefined, `${JSON.stringify(header)}: no ${name}_device`);
  }
});
