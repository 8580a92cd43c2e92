// Progressive enhancement for the lockout message: count the wait down and keep
// the submit button disabled until it is over. Without JavaScript the message
// shows the wait and the server refuses early attempts anyway. While it ticks
// the message is no live region (a screen reader would read every second);
// the end is announced once. The words come from views/partials/lockout.eta.
(function () {
  'use strict';

  var el = document.querySelector('[data-countdown]');
  if (!el) return;
  function plural(n) {
    return n + ' ' + el.getAttribute(n === 1 ? 'data-unit-one' : 'data-unit-many');
  }
  var remaining = parseInt(el.getAttribute('data-countdown'), 10);
  if (!(remaining > 0)) return;
  var deadline = Date.now() + remaining * 1000;
  var buttons = document.querySelectorAll('[data-locked-until-countdown]');
  for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;

  var alert = el.closest('.alert');
  var ticks = 0;
  var timer = setInterval(function () {
    // After the first second: the message has been announced by then.
    if (++ticks === 1 && alert) alert.setAttribute('aria-live', 'off');
    var left = Math.ceil((deadline - Date.now()) / 1000);
    if (left > 0) {
      el.textContent = plural(left);
      return;
    }
    clearInterval(timer);
    // Live again, then the change a moment later so it is announced (once).
    if (alert) alert.removeAttribute('aria-live');
    setTimeout(function () {
      if (alert) {
        alert.className = 'alert alert--notice';
        alert.textContent = alert.getAttribute('data-countdown-done');
      }
      for (var j = 0; j < buttons.length; j++) buttons[j].disabled = false;
    }, 100);
  }, 1000);
})();
