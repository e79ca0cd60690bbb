'use strict';
// Follow the Chat users an action just handed over, without a reload: their import state, when Chat last checked
// them and the last error, once Chat has answered for each. The server makes every word, in the reader's language;
// this script only puts them in place, with textContent. It asks while some user shown still waits, less often as
// time goes by, and not at all while the page is hidden.
(function () {
  const script = document.currentScript;
  const url = script.dataset.statusesUrl;
  const FIRST_DELAY_MS = 1000;
  const LONGEST_DELAY_MS = 15000;
  let waiting = new Set(JSON.parse(document.getElementById('accounts-following').textContent));
  let delay = FIRST_DELAY_MS;

  function show(user) {
    const state = document.querySelector(`.account-state[data-user="${user.id}"]`);
    if (!state) return;
    state.textContent = user.text;
    const row = state.closest('tr');
    const checked = row && row.querySelector('.field-checked_at');
    const error = row && row.querySelector('.field-last_error');
    if (checked) checked.textContent = user.checked;
    if (error) error.textContent = user.error;
  }

  async function ask() {
    if (!waiting.size) return;
    if (document.hidden) {
      document.addEventListener('visibilitychange', ask, {once: true});
      return;
    }
    const query = new URLSearchParams();
    for (const id of waiting) query.append('id', id);
    try {
      const response = await fetch(`${url}?${query}`, {headers: {Accept: 'application/json'}});
      if (response.ok) {
        for (const user of (await response.json()).users) {
          if (user.final) {
            show(user);
            waiting.delete(user.id);
          }
        }
      }
    } catch (error) {
      // The next ask tries again.
    }
    if (waiting.size) {
      delay = Math.min(delay * 1.5, LONGEST_DELAY_MS);
      setTimeout(ask, delay);
    }
  }

  setTimeout(ask, FIRST_DELAY_MS);
})();
