import t from 'tap';
import { usersToRevoke } from '../../src/session/user-changes.ts';
import type { UserRecord } from '../../src/identity/types.ts';

const u = (id: string, over: Partial<UserRecord> = {}): UserRecord =>
  ({ id, display_name: id, email: `${id}@example.com`, password_hash: `hash-${id}`, groups: [], disabled: false, ...over });

t.test('usersToRevoke table', async (t) => {
  const rows: [string, UserRecord[], UserRecord[], string[]][] = [
    ['nothing changed', [u('a'), u('b')], [u('a'), u('b')], []],
    ['user removed', [u('a'), u('b')], [u('a')], ['b']],
    ['user disabled', [u('a')], [u('a', { disabled: true })], ['a']],
    ['already disabled stays disabled', [u('a', { disabled: true })], [u('a', { disabled: true })], []],
    ['re-enabled (sessions were revoked when disabled)', [u('a', { disabled: true })], [u('a')], []],
    ['password changed', [u('a')], [u('a', { password_hash: 'new' })], ['a']],
    ['groups or email changed: headers follow live, no revocation', [u('a')], [u('a', { groups: ['x'], email: 'new@example.com' })], []],
    ['user added', [u('a')], [u('a'), u('c')], []],
    ['several at once', [u('a'), u('b'), u('c')], [u('a', { disabled: true }), u('c', { password_hash: 'n' })], ['a', 'b', 'c']],
  ];
  for (const [label, before, after, want] of rows) t.same(usersToRevoke(before, after), want, label);
});
