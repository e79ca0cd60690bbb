'use strict';
// The header's language chooser: choosing a language sends the form at once (without script, its button shows).
(function () {
  const select = document.getElementById('language-select');
  if (select) select.addEventListener('change', () => select.form.submit());
})();
