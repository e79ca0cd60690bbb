'use strict';
// The group page's comparison with Chat while a sync of the group is on its way: once the state badge (kept current
// by live_sync.js) says the sync has ended, the box is asked for again and put in its place. The server makes every
// word, in the reader's language; this script only swaps the box.
(function () {
  const RETRY_MS = 2000;
  const TRIES = 5;
  let asking = false;
  let tries = 0;

  function pendingBox() {
    const box = document.getElementById('chat-comparison');
    return box && box.dataset.pending === 'true' ? box : null;
  }

  function badge() {
    return document.querySelector('.sync-state[data-group]');
  }

  async function refresh() {
    const box = pendingBox();
    if (asking || !box) return;
    asking = true;
    tries += 1;
    try {
      const response = await fetch(box.dataset.boxUrl, {
        credentials: 'same-origin', headers: {Accept: 'text/html'}, redirect: 'manual',
      });
      if (!response.ok) return;
      const html = await response.text();
      const fresh = new DOMParser().parseFromString(html, 'text/html').getElementById('chat-comparison');
      if (fresh) {
        box.replaceWith(document.importNode(fresh, true));
      } else {
        box.remove(); // nothing to compare any more (the group was deleted meanwhile)
      }
    } catch (error) {
      // The server could not be reached: asked again below.
    } finally {
      asking = false;
    }
    // Still on its way (another sync queued meanwhile): asked again a few times while the badge says it ended.
    if (pendingBox() && tries < TRIES && badge()?.dataset.final === 'true') setTimeout(refresh, RETRY_MS);
  }

  function watch() {
    const state = badge();
    if (!state || !pendingBox()) return;
    const ended = () => {
      if (state.dataset.final === 'true') {
        tries = 0;
        refresh();
      }
    };
    new MutationObserver(ended).observe(state, {attributes: true, attributeFilter: ['data-final']});
    ended();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', watch);
  } else {
    watch();
  }
})();
