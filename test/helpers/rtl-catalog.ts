// A right-to-left catalog for tests (ui.catalog_dir): complete (every English
// key), Arabic words where the sign-in and challenge pages show them, and an
// Arabic marker before the English of the rest so a screenshot shows the
// mirrored layout with real right-to-left text in every string.

import { en } from '../../src/identity/catalog/en.ts';

const ARABIC: Record<string, string> = {
  'layout.need_help': 'هل تحتاج إلى مساعدة؟',
  'layout.protected_by': 'محمي بتسجيل الدخول إلى {product}',
  'login.title': 'تسجيل الدخول',
  'login.heading': 'تسجيل الدخول',
  'login.lead': 'للمتابعة إلى {app}',
  'login.username': 'اسم المستخدم',
  'login.password': 'كلمة المرور',
  'login.submit': 'تسجيل الدخول',
  'login.forgot': 'نسيت كلمة المرور أو فقدت جهازك؟ تواصل مع الدعم أدناه.',
  'js.show': 'إظهار',
  'js.hide': 'إخفاء',
  'js.password_noun': 'كلمة المرور',
  'challenge.verify_title': 'تحقق من هويتك',
  'challenge.lead': 'خطوة أخرى للحفاظ على أمان حسابك.',
  'challenge.choose': 'اختر طريقة التحقق',
  'challenge.try_another': 'جرّب طريقة أخرى',
  'common.sign_out': 'تسجيل الخروج',
  'factor.webauthn.label': 'مفتاح مرور أو مفتاح أمان',
  'factor.totp.label': 'تطبيق المصادقة',
  'factor.email.label': 'رمز عبر البريد الإلكتروني',
  'factor.recovery.label': 'رمز الاسترداد',
  'stepper.step': 'الخطوة {current} من {total}',
};

export function rtlTestCatalog(): Record<string, string> {
  return Object.fromEntries(Object.entries(en).map(([key, text]) => [key, ARABIC[key] ?? `ع: ${text}`]));
}
