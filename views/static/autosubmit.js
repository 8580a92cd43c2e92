// Progressive enhancement for one-time-code inputs marked data-autosubmit:
// tidy what was typed or pasted (spaces, dashes) and submit the form as soon as
// every digit is in. Without JavaScript the form still works with its button.
(function () {
  'use strict';

  function digitsOf(text) {
    return String(text).replace(/[\s-]+/g, '');
  }

  function enhance(input) {
    var length = input.maxLength > 0 ? input.maxLength : 6;
    var submitted = false;

    function maybeSubmit() {
      var cleaned = digitsOf(input.value);
      if (cleaned !== input.value) input.value = cleaned.slice(0, length);
      var complete = input.value.length === length && /^[0-9]+$/.test(input.value);
      if (!complete) {
        submitted = false;
        return;
      }
      if (submitted || !input.form) return;
      submitted = true;
      // requestSubmit runs validation and submit listeners, like pressing the button.
      if (typeof input.form.requestSubmit === 'function') input.form.requestSubmit();
      else input.form.submit();
    }

    // maxlength would cut a pasted "123 456" to "123 45": clean the paste first.
    input.addEventListener('paste', function (event) {
      var text = event.clipboardData && event.clipboardData.getData('text');
      if (!text) return;
      event.preventDefault();
      var start = input.selectionStart === null ? input.value.length : input.selectionStart;
      var end = input.selectionEnd === null ? input.value.length : input.selectionEnd;
      var next = (input.value.slice(0, start) + digitsOf(text) + input.value.slice(end)).slice(0, length);
      input.value = next;
      maybeSubmit();
    });
    input.addEventListener('input', maybeSubmit);
  }

  var inputs = document.querySelectorAll('input[data-autosubmit]');
  for (var i = 0; i < inputs.length; i++) enhance(inputs[i]);
})();
