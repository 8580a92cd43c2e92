// Progressive enhancement: a "Show" button beside password inputs marked
// data-password-toggle, so people on phones can check what they typed.
(function () {
  'use strict';

  // The words come from the page's catalog (views/layout.eta, data-messages).
  var words = JSON.parse(document.body.getAttribute('data-messages') || '{}');
  var inputs = document.querySelectorAll('input[data-password-toggle]');
  for (var i = 0; i < inputs.length; i++) {
    (function (input) {
      var hadFocus = document.activeElement === input;
      var wrap = document.createElement('div');
      wrap.className = 'input-group';
      input.parentNode.insertBefore(wrap, input);
      wrap.appendChild(input);

      var button = document.createElement('button');
      button.type = 'button';
      button.className = 'input-group__toggle';
      button.setAttribute('aria-controls', input.id);
      var verb = document.createElement('span');
      var noun = document.createElement('span');
      noun.className = 'visually-hidden';
      noun.textContent = ' ' + words.password_noun;
      verb.textContent = words.show;
      button.appendChild(verb);
      button.appendChild(noun);
      button.addEventListener('click', function () {
        var show = input.type === 'password';
        input.type = show ? 'text' : 'password';
        verb.textContent = show ? words.hide : words.show;
      });
      wrap.appendChild(button);
      // Moving a node drops its focus: give autofocus back.
      if (hadFocus) input.focus();
    })(inputs[i]);
  }
})();
