// Progressive enhancement for a push waiting to be answered on the phone: ask
// the gateway for its status every second and, once it is answered or has
// expired, submit the page's form, which takes the outcome. Without
// JavaScript the user presses the form's button after answering.
(function () {
  'use strict';

  var form = document.querySelector('form[data-push-status]');
  if (!form) return;
  var url = form.getAttribute('data-push-status');
  var done = false;

  function finish() {
    if (done) return;
    done = true;
    if (typeof form.requestSubmit === 'function') form.requestSubmit();
    else form.submit();
  }

  function poll() {
    if (done) return;
    fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) { return res.ok ? res.json() : { status: 'unknown' }; })
      .then(function (body) {
        if (body.status === 'pending') setTimeout(poll, 1000);
        else finish();
      }, function () {
        // The gateway is out of reach for a moment: keep asking.
        setTimeout(poll, 2000);
      });
  }
  setTimeout(poll, 1000);
})();
