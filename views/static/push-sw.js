// The service worker of push approval (registered by push-subscribe.js): shows
// the gateway's Web Push message as a notification and opens its approval
// link when tapped. The message never holds the number to tap: the person at
// the phone reads it on the sign-in page.
'use strict';

self.addEventListener('push', function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
  event.waitUntil(self.registration.showNotification(data.title || 'Sign-in request', {
    body: data.body || '',
    tag: data.tag,
    requireInteraction: true,
    data: { url: data.url },
  }));
});

self.addEventListener('notificationclick', function (event) {
  event.notification.close();
  var url = event.notification.data && event.notification.data.url;
  if (url) event.waitUntil(self.clients.openWindow(url));
});
