import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sectionTable } from './section-table.ts';

// ui.catalog_dir: a directory of <language>.json files (the keys are checked against English where the catalogs live).
const dir = mkdtempSync(path.join(tmpdir(), 'gh-ui-'));
writeFileSync(path.join(dir, 'ar.json'), JSON.stringify({ 'login.heading': 'تسجيل الدخول' }));
writeFileSync(path.join(dir, 'de.json'), JSON.stringify({ 'login.heading': 'Einloggen' }));
const bad = mkdtempSync(path.join(tmpdir(), 'gh-ui-bad-'));
writeFileSync(path.join(bad, 'he.json'), '[1, 2]');


sectionTable(t, 'ui', [
  { name: 'defaults: English only, UTC', yaml: '', want: { languages: ['en'], default_language: 'en', time_zone: 'UTC', catalogs: {} } },
  {
    name: 'every key set',
    yaml: 'ui:\n  languages: [de, en, FR]\n  default_language: en\n  time_zone: Europe/Berlin\n',
    want: { languages: ['de', 'en', 'fr'], default_language: 'en', time_zone: 'Europe/Berlin', catalogs: {} },
  },
  { name: 'the default language is the first offered', yaml: 'ui:\n  languages: [es, en]\n', want: { languages: ['es', 'en'], default_language: 'es', time_zone: 'UTC', catalogs: {} } },
  { name: 'a language without a catalog', yaml: 'ui:\n  languages: [en, it]\n', issues: { 'ui.languages[1]': [2, /no catalog for "it"; available: en, de, fr, es \(add more with ui\.catalog_dir\)/] } },
  { name: 'a default that is not offered', yaml: 'ui:\n  languages: [en]\n  default_language: de\n', issues: { 'ui.default_language': [3, /must be one of ui\.languages \(en\)/] } },
  { name: 'an unknown time zone', yaml: 'ui:\n  time_zone: Mars/Olympus\n', issues: { 'ui.time_zone': [2, /unknown time zone "Mars\/Olympus"/] } },
  {
    name: 'catalog_dir adds languages (and may replace a shipped one)',
    yaml: `ui:\n  languages: [ar, de]\n  catalog_dir: ${dir}\n`,
    want: { languages: ['ar', 'de'], default_language: 'ar', time_zone: 'UTC', catalog_dir: dir, catalogs: { ar: { 'login.heading': 'تسجيل الدخول' }, de: { 'login.heading': 'Einloggen' } } },
  },
  { name: 'a catalog_dir that cannot be read', yaml: 'ui:\n  catalog_dir: /nonexistent/catalogs\n', issues: { 'ui.catalog_dir': [2, /cannot read \/nonexistent\/catalogs/] } },
  { name: 'a catalog file that is not a flat object', yaml: `ui:\n  catalog_dir: ${bad}\n`, issues: { 'ui.catalog_dir': [2, /he\.json: must be one JSON object of message key → text/] } },
]);
