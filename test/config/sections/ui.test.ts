import t from 'tap';
import { sectionTable } from './section-table.ts';

sectionTable(t, 'ui', [
  { name: 'defaults: English only, UTC', yaml: '', want: { languages: ['en'], default_language: 'en', time_zone: 'UTC' } },
  {
    name: 'every key set',
    yaml: 'ui:\n  languages: [de, en, FR]\n  default_language: en\n  time_zone: Europe/Berlin\n',
    want: { languages: ['de', 'en', 'fr'], default_language: 'en', time_zone: 'Europe/Berlin' },
  },
  { name: 'the default language is the first offered', yaml: 'ui:\n  languages: [es, en]\n', want: { languages: ['es', 'en'], default_language: 'es', time_zone: 'UTC' } },
  { name: 'a language without a catalog', yaml: 'ui:\n  languages: [en, it]\n', issues: { 'ui.languages[1]': [2, /no catalog for "it"; shipped: en, de, fr, es/] } },
  { name: 'a default that is not offered', yaml: 'ui:\n  languages: [en]\n  default_language: de\n', issues: { 'ui.default_language': [3, /must be one of ui\.languages \(en\)/] } },
  { name: 'an unknown time zone', yaml: 'ui:\n  time_zone: Mars/Olympus\n', issues: { 'ui.time_zone': [2, /unknown time zone "Mars\/Olympus"/] } },
]);
