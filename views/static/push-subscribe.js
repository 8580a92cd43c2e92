// Enrollment of Web Push approval on this browser: registers the service
// worker, asks for permission to notify, subscribes with the gateway's VAPID
// key and posts the subscription with the form. Browsers without Web Push
// never see the form (it stays hidden); the link by email remains.
(function () {
  'use strict';

  var form = document.querySelector('form[data-push-subscribe]');
  if (!form || !('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) return;
  form.hidden = false;
  var error = form.querySelector('[data-push-subscribe-error]');
  var busy = false;

  function keyBytes(b64url) {
    var b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
    var raw = atob(b64 + '==='.slice((b64.length + 3) % 4));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function fail() {
    busy = false;
    error.textContent = error.getAttribute('data-message');
    error.hidden = false;
  }

  form.addEventListener('submit', function (event) {
    if (form.elements.subscription.value) return;
    event.preventDefault();
    if (busy) return;
    busy = true;
    error.hidden = true;
    Notification.requestPermission().then(function (permission) {
      if (permission !== 'granted') throw new Error('notifications not allowed');
      return navigator.serviceWorker.register(form.getAttribute('data-sw'));
    }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(form.getAttribute('data-vapid-key')) });
    }).then(function (subscription) {
      form.elements.subscription.value = JSON.stringify(subscription.toJSON());
      form.submit();
    }).catch(fail);
  });
})();
