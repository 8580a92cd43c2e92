// Progressive enhancement of "Send a new code" (views/partials/code-resend.eta):
// count the wait down and keep the button disabled until it is over. Without
// JavaScript the wait is plain text and the server answers an early request
// with the time left. The words come from the page (data-template).
(function () {
  'use strict';

  var el = document.querySelector('[data-resend-wait]');
  if (!el) return;
  var remaining = parseInt(el.getAttribute('data-resend-wait'), 10);
  if (!(remaining > 0)) return;
  var template = el.getAttribute('data-template') || '{seconds}';
  var button = document.querySelector('[data-resend-button]');
  var deadline = Date.now() + remaining * 1000;
  if (button) button.disabled = true;
  var timer = setInterval(function () {
    var left = Math.ceil((deadline - Date.now()) / 1000);
    if (left > 0) {
      el.textContent = template.replace('{seconds}', String(left));
      return;
    }
    clearInterval(timer);
    el.hidden = true;
    if (button) button.disabled = false;
  }, 1000);
})();
