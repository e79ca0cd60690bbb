'use strict';
// Follow a group's sync live, without a reload: its state (queued, syncing call k of n, waiting to try again with
// the attempt and the time of the next try, then how it ended) and its "Retry now" button, its
// last sync, GroupId and last error, and each conversation's answer from Chat on the group's page; the state and
// the counts on the list. The server makes every word, in the reader's language; this script only puts them in
// place. It asks while some group shown is not final, less often while nothing changes, and not at all while the
// page is hidden.
(function () {
  const script = document.currentScript;
  const groupUrl = script.dataset.statusUrl; // one group's page
  const listUrl = script.dataset.statusesUrl; // the list of groups
  const gettext = typeof window.gettext === 'function' ? window.gettext : (text) => text;
  const FIRST_DELAY_MS = 1000;
  const LONGEST_DELAY_MS = 15000;
  let delay = FIRST_DELAY_MS;
  let timer = null;
  let asking = false;
  let gaveUp = false;
  let note = null;

  function waiting() {
    return Array.from(document.querySelectorAll('.sync-state[data-group]')).filter(
      (badge) => badge.dataset.final !== 'true');
  }

  function say(text) {
    if (!note) {
      if (!text) return;
      note = document.createElement('p');
      note.className = 'sync-live-note';
      note.setAttribute('role', 'status');
      const badge = document.querySelector('.sync-state[data-group]');
      const place = groupUrl && badge ? badge.parentNode : document.getElementById('content-main');
      if (!place) return;
      place.appendChild(note);
    }
    note.textContent = text;
    note.hidden = !text;
  }

  function setText(element, text) {
    if (!element || element.textContent === text) return false;
    element.textContent = text;
    return true;
  }

  function showGroup(status) {
    const badge = document.querySelector(`.sync-state[data-group="${status.id}"]`);
    if (!badge) return false;
    let changed = setText(badge, status.text);
    const wanted = `sync-state state-${status.state}`;
    if (badge.className !== wanted) {
      badge.className = wanted;
      changed = true;
    }
    badge.dataset.final = status.final ? 'true' : 'false';
    let bar = badge.nextElementSibling;
    if (!(bar && bar.classList.contains('sync-progress'))) bar = null;
    if (!status.final && status.calls.planned > 1) {
      if (!bar) {
        bar = document.createElement('progress');
        bar.className = 'sync-progress';
        badge.after(bar);
      }
      bar.max = status.calls.planned;
      bar.value = status.calls.done;
    } else if (bar) {
      bar.remove();
    }
    // The group's page: "Retry now" beside the state while a retry waits (none once it is tried).
    const offers = document.querySelector(`.sync-state-offers[data-group="${status.id}"]`);
    if (offers && Array.isArray(status.offers)) {
      const next = offers.cloneNode(false);
      for (const offer of status.offers) next.append(offerElement(offer));
      if (!offers.isEqualNode(next)) {
        offers.replaceChildren(...next.childNodes);
        changed = true;
      }
    }
    return changed;
  }

  // An offer under a value (a refused UserID's import button, or that it is imported now; the sync-again
  // button), built as the page itself renders it (contactgroups.admin.display.Offer), every word as text.
  function offerElement(offer) {
    const span = document.createElement('span');
    span.className = 'chat-offer';
    if (offer.user_id) {
      const userId = document.createElement('span');
      userId.className = 'user-id';
      userId.textContent = offer.user_id;
      span.append(userId, ': ');
    }
    if (offer.button) {
      const button = document.createElement('button');
      button.setAttribute('type', 'submit');
      button.setAttribute('class', `button chat-${offer.button.kind}`);
      for (const name of ['form', 'formaction', 'name', 'value']) {
        if (typeof offer.button[name] === 'string') button.setAttribute(name, offer.button[name]);
      }
      button.textContent = offer.button.label;
      span.append(button);
    } else {
      span.append(offer.words);
    }
    return span;
  }

  // A value as the server made it: its text, in red when refused, then its offers, if any. Only what differs
  // from the page is written. Returns whether the page changed.
  function showValue(element, value) {
    if (!element) return false;
    const wanted = element.cloneNode(false);
    if (value.refused) {
      const strong = document.createElement('strong');
      strong.className = 'refused';
      strong.textContent = value.text;
      wanted.append(strong);
    } else {
      wanted.append(value.text);
    }
    for (const offer of value.offers || []) wanted.append(offerElement(offer));
    wanted.normalize();
    const now = element.cloneNode(true);
    now.normalize();
    if (now.isEqualNode(wanted)) return false;
    element.replaceChildren(...wanted.childNodes);
    return true;
  }

  function show(data) {
    let changed = false;
    for (const status of data.groups || [data]) {
      changed = showGroup(status) || changed;
      // The list's other columns a sync changes, in the badge's row.
      const row = document.querySelector(`.sync-state[data-group="${status.id}"]`)?.closest('tr');
      for (const [name, value] of Object.entries(status.columns || {})) {
        changed = showValue(row && row.querySelector(`.field-${name}`), value) || changed;
      }
    }
    for (const conversation of data.conversations || []) {
      changed = showValue(document.querySelector(`.sync-result[data-item="${conversation.id}"]`), conversation)
        || changed;
    }
    for (const [name, value] of Object.entries(data.fields || {})) {
      changed = showValue(document.querySelector(`.form-row.field-${name} .readonly`), value) || changed;
    }
    return changed;
  }

  function url(badges) {
    if (groupUrl) return groupUrl;
    const query = new URLSearchParams();
    for (const badge of badges) query.append('id', badge.dataset.group);
    return `${listUrl}?${query}`;
  }

  async function ask() {
    timer = null;
    const badges = waiting();
    if (!badges.length || document.hidden) return;
    asking = true;
    try {
      const response = await fetch(url(badges), {
        credentials: 'same-origin', headers: {Accept: 'application/json'}, redirect: 'manual',
      });
      const json = (response.headers.get('Content-Type') || '').startsWith('application/json');
      if (response.type === 'opaqueredirect' || (response.status >= 400 && response.status < 500) ||
          (response.ok && !json)) {
        // Signed out, no longer allowed, or the group is gone: asking again will not help.
        gaveUp = true;
        say(gettext('The sync can no longer be followed on this page; reload it to see where it is.'));
        return;
      }
      if (!response.ok) throw new Error(String(response.status));
      const changed = show(await response.json());
      say('');
      delay = changed ? FIRST_DELAY_MS : Math.min(delay * 1.5, LONGEST_DELAY_MS);
    } catch (error) {
      say(gettext('Could not reach the server to follow the sync; trying again.'));
      delay = Math.min(delay * 2, LONGEST_DELAY_MS);
    } finally {
      asking = false;
    }
    later();
  }

  function later() {
    if (gaveUp || asking || timer !== null || document.hidden || !waiting().length) return;
    timer = setTimeout(ask, delay);
  }

  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
    } else {
      delay = FIRST_DELAY_MS;
      later();
    }
  });
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', later);
  } else {
    later();
  }
})();
