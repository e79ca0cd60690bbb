'use strict';
// Show the target field that matches each conversation's type: To_Account for a
// one-to-one conversation, ToGroupId for a group conversation. A field that holds a
// value stays visible, so the server's refusal of a mismatched value can be read.
(function () {
  const TYPE_C2C = '1';
  // Words from the page's translation catalogue (the jsi18n script), as they are when it is missing.
  const gettext = typeof window.gettext === 'function' ? window.gettext : (text) => text;

  function sync(row) {
    const select = row.querySelector('select[name$="-type"]');
    if (!select) return;
    const account = row.querySelector('input[name$="-to_account"]');
    const group = row.querySelector('input[name$="-to_group_id"]');
    const oneToOne = select.value === TYPE_C2C;
    for (const [input, wanted] of [[account, oneToOne], [group, !oneToOne]]) {
      if (!input) continue;
      const show = wanted || input.value !== '';
      const mismatched = !wanted && input.value !== '';
      input.style.display = show ? '' : 'none';
      input.classList.toggle('mismatched', mismatched);
      input.title = mismatched ? gettext('This field does not belong to the chosen type; the save will refuse it.') : '';
    }
  }

  // Not a data- attribute: Django adds a row by cloning the empty-form template, attributes included, and a
  // copied mark would leave the new row without its listeners.
  const bound = new WeakSet();

  function bind(row) {
    const select = row.querySelector('select[name$="-type"]');
    if (!select || bound.has(select)) return;
    bound.add(select);
    select.addEventListener('change', () => sync(row));
    row.querySelectorAll('input[name$="-to_account"], input[name$="-to_group_id"]').forEach(
      (input) => input.addEventListener('input', () => sync(row)));
    sync(row);
  }

  document.addEventListener('DOMContentLoaded', () => {
    document.querySelectorAll(
      '.inline-related tr.form-row:not(.empty-form), .inline-related .inline-related:not(.empty-form)'
    ).forEach(bind);
  });
  document.addEventListener('formset:added', (event) => bind(event.target));
})();
