// Runs a table of gatehouse.yaml snippets through the real loader (YAML, schema,
// section builder, issue location) and checks one section of the result: the
// loaded value, the warnings, or the exact set of issues (key path, line, message).

import type { Test } from 'tap';
import { ConfigError, parseConfig, type ConfigIssue } from '../../../src/config/load.ts';
import type { Config } from '../../../src/config/types.ts';

export const SECRETS = { GATEHOUSE_SESSION_SECRET: 's'.repeat(40), GATEHOUSE_ENCRYPTION_KEY: 'k'.repeat(40), GATEHOUSE_AUDIT_KEY: 'a'.repeat(40) };
export const NOW = new Date('2026-11-15T12:00:00Z');

type Section = Exclude<keyof Config, 'source_path' | 'warnings'>;

export interface SectionCase {
  name: string;
  yaml: string;
  env?: NodeJS.ProcessEnv;
  /** The section as loaded: compared with t.same (exact) unless `partial`. */
  want?: unknown;
  partial?: boolean;
  /** Every warning, in order (patterns). Default: none when `want` is given. */
  warnings?: RegExp[];
  /** Every issue: key path → [line, message pattern]. */
  issues?: Record<string, [number | undefined, RegExp]>;
}

function load(c: SectionCase): Config | ConfigIssue[] {
  try {
    return parseConfig(c.yaml, 'g.yaml', { env: c.env ?? SECRETS, now: () => NOW, persistDevSecrets: false });
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
}

export function sectionTable(t: Test, section: Section, cases: SectionCase[]): void {
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const got = load(c);
      if (c.issues !== undefined) {
        if (!Array.isArray(got)) return void t.fail('expected issues, the config loaded');
        t.same(got.map((i) => i.path).sort(), Object.keys(c.issues).sort(), 'exactly these keys have issues');
        for (const [path, [line, message]] of Object.entries(c.issues)) {
          const issue = got.find((i) => i.path === path);
          t.equal(issue?.line, line, `${path}: line`);
          t.match(issue?.message, message, `${path}: message`);
        }
        return;
      }
      if (Array.isArray(got)) return void t.fail(`expected no issues, got: ${got.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
      if (c.partial) t.match(got[section], c.want);
      else t.same(got[section], c.want);
      const warnings = c.warnings ?? [];
      t.equal(got.warnings.length, warnings.length, `${warnings.length} warning(s): ${got.warnings.join(' | ')}`);
      warnings.forEach((w, i) => t.match(got.warnings[i], w));
    });
  }
}
