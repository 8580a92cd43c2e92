// Progressive enhancement for the lockout message: count the wait down and keep
// the submit button disabled until it is over. Without JavaScript the message
// shows the wait and the server refuses early attempts anyway.
(function () {
  'use strict';

  function plural(n) {
    return n + (n === 1 ? ' second' : ' seconds');
  }

  var el = document.querySelector('[data-countdown]');
  if (!el) return;
  var remaining = parseInt(el.getAttribute('data-countdown'), 10);
  if (!(remaining > 0)) return;
  var deadline = Date.now() + remaining * 1000;
  var buttons = document.querySelectorAll('[data-locked-until-countdown]');
  for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;

  var timer = setInterval(function () {
    var left = Math.ceil((deadline - Date.now()) / 1000);
    if (left > 0) {
      el.textContent = plural(left);
      return;
    }
    clearInterval(timer);
    var alert = el.closest('.alert');
    if (alert) {
      alert.className = 'alert alert--notice';
      alert.textContent = 'You can try again now.';
    }
    for (var j = 0; j < buttons.length; j++) buttons[j].disabled = false;
  }, 1000);
})();
