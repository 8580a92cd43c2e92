// Every page in English, desktop and phone, light and dark: checks, axe-core,
// screenshots (test/ui/page-matrix.ts). One file per language so tap runs them side by side.

import t from 'tap';
import { lookAtEveryPageIn } from './page-matrix.ts';

await lookAtEveryPageIn(t, 'en', 'English');
