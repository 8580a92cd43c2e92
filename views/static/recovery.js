// Copy and print for the recovery codes page (buttons appear only with JavaScript).
(function () {
  'use strict';
  var codes = Array.prototype.map.call(document.querySelectorAll('.recovery__codes code'), function (c) { return c.textContent; });
  var copy = document.querySelector('[data-copy-codes]');
  var print = document.querySelector('[data-print]');
  if (copy && navigator.clipboard) {
    copy.hidden = false;
    copy.addEventListener('click', function () {
      navigator.clipboard.writeText(codes.join('\n')).then(function () { copy.textContent = copy.getAttribute('data-copied-label') || copy.textContent; });
    });
  }
  if (print) {
    print.hidden = false;
    print.addEventListener('click', function () { window.print(); });
  }
})();
