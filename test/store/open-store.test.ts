import { join } from 'node:path';
import t from 'tap';
import type { StoreConfig } from '../../src/config/types.ts';
import { openStore } from '../../src/store/open-store.ts';

t.test('sqlite kind opens a working store at the configured path', async (t) => {
  const store = openStore({ kind: 'sqlite', path: join(t.testdir(), 'data', 'g.db') });
  t.teardown(() => store.close());
  await store.migrate();
  await store.replaceRecoveryCodes('alice', ['h']);
  t.equal(await store.countRecoveryCodes('alice'), 1, 'store answers');
});

t.test('postgres kind connects to the configured URL', async (t) => {
  // Nothing listens on port 1: the error proves the URL reached a pg client, without needing a server.
  const store = openStore({ kind: 'postgres', url: 'postgres://postgres@127.0.0.1:1/test' });
  t.teardown(() => store.close());
  await t.rejects(store.ping(), /ECONNREFUSED/, 'ping tries the configured address and fails closed');
});

t.test('an unknown kind is a clear error', async (t) => {
  t.throws(() => openStore({ kind: 'mysql' } as unknown as StoreConfig), /unknown store kind: "mysql"/);
});
