// Passkey and security-key ceremonies for the challenge and enrollment pages.
// Progressive enhancement: the markup says what to call; no inline script.
(function () {
  'use strict';
  // The words come from the page's catalog (views/layout.eta, data-messages).
  var words = JSON.parse(document.body.getAttribute('data-messages') || '{}');
  function post(url, csrf, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf, accept: 'application/json' },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().catch(function () { return { ok: false, error: words.webauthn_unexpected }; });
    });
  }
  function friendly(err) {
    var name = err && err.name;
    // NotAllowedError: the person cancelled the prompt, the fingerprint/PIN check failed, or it timed out.
    if (name === 'NotAllowedError' || name === 'AbortError') return words.webauthn_cancelled;
    if (name === 'InvalidStateError') return words.webauthn_registered;
    if (name === 'NotSupportedError' || name === 'SecurityError') return words.webauthn_unsupported_here;
    return (err && err.message) || words.webauthn_failed;
  }
  // Passkey sign-in on the sign-in page: the button, and the passkey offered in
  // the username field's autofill (conditional mediation). The box stays hidden
  // without JavaScript; its words come from views/partials/passkey-signin.eta.
  function passkeySignIn(box) {
    var button = box.querySelector('[data-webauthn-start]');
    var errorBox = box.querySelector('[data-webauthn-error]');
    var csrf = box.getAttribute('data-csrf') || '';
    var label = button.textContent;
    var lib = window.SimpleWebAuthnBrowser;
    function message(code, wait) {
      var text = box.getAttribute('data-msg-' + code) || box.getAttribute('data-msg-failed');
      return text.replace('{seconds}', String(wait || 0));
    }
    function show(text) {
      errorBox.textContent = text;
      errorBox.hidden = false;
      button.disabled = false;
      button.textContent = label;
    }
    box.hidden = false;
    if (!window.PublicKeyCredential || !lib) {
      show(message('unsupported'));
      button.disabled = true;
      return;
    }
    // A newer ceremony replaces an older one (the button cancels the autofill offer): only the newest may report.
    var generation = 0;
    function run(autofill) {
      var mine = ++generation;
      return post(box.getAttribute('data-options-url'), csrf, {}).then(function (res) {
        if (!res.ok) throw { answer: res.code || 'failed', wait: res.wait_seconds };
        return lib.startAuthentication({ optionsJSON: res.options, useBrowserAutofill: autofill });
      }).then(function (response) {
        return post(box.getAttribute('data-verify-url'), csrf, { response: response, rd: box.getAttribute('data-rd') || '' });
      }).then(function (res) {
        if (!res.ok) throw { answer: res.code || 'failed', wait: res.wait_seconds };
        window.location.assign(res.redirect);
      }).catch(function (err) {
        if (mine !== generation) return;
        // err.answer: the gateway's word (failed, expired, throttled); otherwise the browser's (WebAuthnError names).
        var code = err && err.answer ? err.answer : (err && (err.name === 'NotAllowedError' || err.name === 'AbortError') ? 'cancelled' : 'failed');
        // An autofill offer that simply ends (the person typed a password instead) is no error.
        if (!autofill || (err && err.answer)) show(message(code, err && err.wait));
        if (!autofill) offerInAutofill();
      });
    }
    function offerInAutofill() {
      if (!lib.browserSupportsWebAuthnAutofill) return;
      lib.browserSupportsWebAuthnAutofill().then(function (yes) { if (yes) run(true); });
    }
    button.addEventListener('click', function () {
      button.disabled = true;
      button.textContent = box.getAttribute('data-waiting') || label;
      errorBox.hidden = true;
      run(false);
    });
    offerInAutofill();
  }

  document.querySelectorAll('[data-webauthn]').forEach(function (box) {
    var mode = box.getAttribute('data-webauthn');
    if (mode === 'signin') return passkeySignIn(box);
    var button = box.querySelector('[data-webauthn-start]');
    var errorBox = box.querySelector('[data-webauthn-error]');
    var csrf = box.getAttribute('data-csrf') || '';
    var query = box.getAttribute('data-query') || '';
    var label = button.textContent;
    // Hidden in the page: without JavaScript the <noscript> text says what to do instead.
    button.hidden = false;
    function show(msg) {
      errorBox.textContent = msg;
      errorBox.hidden = false;
      button.disabled = false;
      button.textContent = label;
    }
    if (!window.PublicKeyCredential || !window.SimpleWebAuthnBrowser) {
      show(words.webauthn_unsupported);
      button.disabled = true;
      return;
    }
    button.addEventListener('click', function () {
      button.disabled = true;
      button.textContent = words.webauthn_waiting;
      errorBox.hidden = true;
      var kindInput = box.querySelector('[name="kind"]:checked') || box.querySelector('[name="kind"]');
      var nameInput = box.querySelector('[name="name"]');
      var rememberInput = box.querySelector('[name="remember"]');
      var extra = {
        query: query,
        kind: kindInput ? kindInput.value : undefined,
        name: nameInput ? nameInput.value : undefined,
        remember: rememberInput && rememberInput.checked ? '1' : undefined,
      };
      // Refused for want of a fresh check (403 webauthn.confirm_first with a redirect): on to the challenge that asks for it.
      function refused(res) {
        if (res.redirect) { window.location.assign(res.redirect); return { leaving: true }; }
        return new Error(res.error || words.webauthn_failed);
      }
      post(box.getAttribute('data-options-url'), csrf, extra).then(function (res) {
        if (!res.ok) throw refused(res);
        var lib = window.SimpleWebAuthnBrowser;
        return mode === 'register'
          ? lib.startRegistration({ optionsJSON: res.options })
          : lib.startAuthentication({ optionsJSON: res.options });
      }).then(function (response) {
        extra.response = response;
        return post(box.getAttribute('data-verify-url'), csrf, extra);
      }).then(function (res) {
        if (!res.ok) throw refused(res);
        window.location.assign(res.redirect);
      }).catch(function (err) { if (!(err && err.leaving)) show(friendly(err)); });
    });
  });
})();
