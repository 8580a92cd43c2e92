// Copy buttons: [data-copy-text] copies its value; the label it shows after
// copying comes from data-copied-label (the page's wording, not the script's).
// The buttons stay hidden without JavaScript or a clipboard.
(function () {
  'use strict';
  if (!navigator.clipboard) return;
  Array.prototype.forEach.call(document.querySelectorAll('[data-copy-text]'), function (button) {
    button.hidden = false;
    button.addEventListener('click', function () {
      navigator.clipboard.writeText(button.getAttribute('data-copy-text')).then(function () {
        button.textContent = button.getAttribute('data-copied-label') || button.textContent;
      });
    });
  });
})();
