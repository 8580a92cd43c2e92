// What the gateway needs from wherever users come from (the users file today;
// LDAP or a database later).

export interface UserRecord {
  id: string;
  display_name: string;
  email: string;
  password_hash: string;
  groups: string[];
  disabled: boolean;
}

export type AuthResult = { ok: true; user: UserRecord } | { ok: false; reason: 'invalid' };

export interface IdentitySource {
  /**
   * Unknown user, wrong password and disabled account all answer 'invalid',
   * after the same work (one argon2 verification), so neither the answer nor
   * its timing tells which usernames exist.
   */
  authenticate(username: string, password: string): Promise<AuthResult>;
  getUser(id: string): UserRecord | undefined;
  listUsers(): UserRecord[];
}
