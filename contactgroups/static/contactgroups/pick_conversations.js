'use strict';
// The group page's help in adding conversations. "Choose from the owner's conversations in Chat" lists the owner's
// recent conversations, read from Chat a page at a time ("Show more" reads the next); the ones chosen become rows
// of the conversations' inline, in an empty row first, then in rows added as Django's "Add another" adds them.
// Nothing is saved until the staff save. A one-to-one row's UserID box suggests known Chat users as staff type: one
// shared list and a few listeners on the document, whatever the number of rows. The server makes the words of
// what it sends; this script's own words come from the JavaScript catalogue.
(function () {
  const box = document.getElementById('pick-conversations');
  if (!box) return;
  const gettext = typeof window.gettext === 'function' ? window.gettext : (text) => text;
  const ngettext = typeof window.ngettext === 'function' ? window.ngettext
    : (singular, plural, count) => (count === 1 ? singular : plural);
  const interpolate = typeof window.interpolate === 'function' ? window.interpolate
    : (text, values) => text.replace(/%\((\w+)\)s/g, (match, name) => String(values[name]));
  const TYPE_C2C = '1';
  const SUGGEST_DELAY_MS = 200;
  const prefix = box.dataset.prefix;
  const group = box.dataset.group;
  const opener = box.querySelector('[data-pick-open]');
  const panel = box.querySelector('.pick-panel');
  const listBody = panel.querySelector('tbody');
  const status = panel.querySelector('.pick-status');
  const more = panel.querySelector('[data-pick-more]');
  const adder = panel.querySelector('[data-pick-add]');
  const closer = panel.querySelector('[data-pick-close]');
  let next = null;
  let listed = null; // whose list the panel shows
  let reading = false;

  const key = (type, target) => `${type}:${target}`;

  function formRows() {
    return Array.from(document.querySelectorAll(`#${prefix}-group tr.form-row:not(.empty-form)`));
  }

  function rowConversation(row) {
    const type = row.querySelector('select[name$="-type"]');
    const account = row.querySelector('input[name$="-to_account"]');
    const groupId = row.querySelector('input[name$="-to_group_id"]');
    const id = row.querySelector('input[name$="-id"]');
    const deletion = row.querySelector('input[name$="-DELETE"]');
    const typed = type && type.value === TYPE_C2C ? account : groupId;
    return {
      type: type ? type.value : '',
      target: typed ? typed.value.trim() : '',
      empty: !(account && account.value) && !(groupId && groupId.value),
      saved: Boolean(id && id.value),
      deleted: Boolean(deletion && deletion.checked),
    };
  }

  function onThePage() {
    const present = new Set();
    for (const row of formRows()) {
      const conversation = rowConversation(row);
      if (conversation.target && !conversation.deleted) present.add(key(conversation.type, conversation.target));
    }
    return present;
  }

  function owner() {
    if (group) return ['group', group];
    const select = document.getElementById('id_owner');
    return select && select.value ? ['owner', select.value] : null;
  }

  function say(text, error = false) {
    status.textContent = text || '';
    status.classList.toggle('errornote', error);
  }

  function cell(content) {
    const td = document.createElement('td');
    if (content instanceof Node) td.appendChild(content);
    else td.textContent = content;
    return td;
  }

  function entryRow(entry, present) {
    const row = document.createElement('tr');
    row.dataset.type = String(entry.type);
    row.dataset.target = entry.target;
    const name = entry.nickname ? `${entry.target} (${entry.nickname})` : entry.target;
    const choose = document.createElement('input');
    choose.type = 'checkbox';
    choose.setAttribute('aria-label', interpolate(gettext('Choose %(conversation)s'), {conversation: name}, true));
    const here = present.has(key(entry.type, entry.target));
    choose.disabled = entry.in_group || here;
    let held = '';
    if (entry.in_group) held = gettext('yes');
    else if (here) held = gettext('on this page, not saved yet');
    const kind = entry.pinned ? `${entry.type_text} · ${gettext('pinned')}` : entry.type_text;
    row.append(cell(choose), cell(kind), cell(name), cell(entry.last_message), cell(held));
    row.lastElementChild.className = 'pick-held';
    return row;
  }

  function chosen() {
    return Array.from(listBody.querySelectorAll('input[type="checkbox"]:checked:not(:disabled)'));
  }

  function updateAdder() {
    adder.disabled = chosen().length === 0;
  }

  async function read(fresh) {
    if (reading) return;
    const who = owner();
    if (!who) {
      listBody.replaceChildren();
      next = null;
      listed = null;
      more.hidden = true;
      say(gettext("Choose the group's owner first: the conversations listed are the owner's."), true);
      updateAdder();
      return;
    }
    if (listed !== key(...who)) fresh = true;
    const url = new URL(box.dataset.recentUrl, window.location.href);
    url.searchParams.set(who[0], who[1]);
    if (!fresh && next) url.searchParams.set('cursor', next);
    reading = true;
    more.disabled = true;
    say(gettext('Reading the conversations from Chat…'));
    try {
      const response = await fetch(url, {headers: {Accept: 'application/json'}, credentials: 'same-origin'});
      let data = null;
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
      if (!response.ok || !data || data.error) {
        say(data && data.error ? data.error
          : interpolate(gettext('The list could not be read (HTTP %(status)s).'), {status: response.status}, true),
        true);
        return;
      }
      if (fresh) listBody.replaceChildren();
      listed = key(...who);
      const present = onThePage();
      for (const entry of data.conversations) listBody.appendChild(entryRow(entry, present));
      next = data.next;
      say(data.text);
    } catch (error) {
      say(gettext('The list could not be read: the admin did not answer.'), true);
    } finally {
      reading = false;
      more.disabled = false;
      more.hidden = !next;
      updateAdder();
    }
  }

  // The inline's empty rows not saved yet, to fill first; then rows Django's "Add another" adds.
  function emptyRows() {
    return formRows().filter((row) => {
      const conversation = rowConversation(row);
      return conversation.empty && !conversation.saved && !conversation.deleted;
    });
  }

  function addedRow() {
    const total = document.getElementById(`id_${prefix}-TOTAL_FORMS`);
    const link = document.querySelector(`#${prefix}-group .add-row a`);
    // Django hides the link's row once the inline holds its most rows (read from its style: asking the layout
    // would lay out a page of a thousand rows again after each row added).
    const linkRow = link && link.closest('.add-row');
    if (!total || !linkRow || linkRow.style.display === 'none') return null;
    const index = total.value;
    link.click();
    return document.getElementById(`${prefix}-${index}`);
  }

  function fill(row, type, target) {
    const select = row.querySelector('select[name$="-type"]');
    select.value = type;
    select.dispatchEvent(new Event('change', {bubbles: true}));
    const input = row.querySelector(type === TYPE_C2C ? 'input[name$="-to_account"]' : 'input[name$="-to_group_id"]');
    input.value = target;
    input.dispatchEvent(new Event('input', {bubbles: true}));
  }

  function addChosen() {
    let added = 0;
    let left = 0;
    const empty = emptyRows();
    for (const choice of chosen()) {
      const entry = choice.closest('tr');
      const row = empty.shift() || addedRow();
      if (!row) {
        left += 1;
        continue;
      }
      fill(row, entry.dataset.type, entry.dataset.target);
      choice.checked = false;
      choice.disabled = true;
      entry.querySelector('.pick-held').textContent = gettext('on this page, not saved yet');
      added += 1;
    }
    if (left) {
      say(interpolate(ngettext(
        '%(count)s conversation could not be added: the group holds as many as a page may.',
        '%(count)s conversations could not be added: the group holds as many as a page may.', left),
      {count: left}, true), true);
    } else if (added) {
      say(interpolate(ngettext(
        '%(count)s conversation added to the conversations above; nothing is saved until you save.',
        '%(count)s conversations added to the conversations above; nothing is saved until you save.', added),
      {count: added}, true));
    }
    updateAdder();
  }

  opener.addEventListener('click', () => {
    const open = panel.hidden;
    panel.hidden = !open;
    opener.setAttribute('aria-expanded', open ? 'true' : 'false');
    if (open) {
      const who = owner();
      if (!who || listed !== key(...who)) read(true);
    }
  });
  closer.addEventListener('click', () => {
    panel.hidden = true;
    opener.setAttribute('aria-expanded', 'false');
    opener.focus();
  });
  more.addEventListener('click', () => read(false));
  adder.addEventListener('click', addChosen);
  listBody.addEventListener('change', updateAdder);

  // Type-ahead of known Chat users in a one-to-one row's UserID box ------------------------------------------------
  const suggestions = document.createElement('ul');
  suggestions.id = 'pick-user-suggestions';
  suggestions.className = 'pick-suggestions';
  suggestions.setAttribute('role', 'listbox');
  suggestions.setAttribute('aria-label', gettext('Known Chat users'));
  suggestions.hidden = true;
  document.body.appendChild(suggestions);
  let input = null; // the box the suggestions are for
  let timer = null;
  let asked = 0;
  let active = -1;

  function isUserIdBox(element) {
    if (!(element instanceof HTMLInputElement) || !element.name.startsWith(`${prefix}-`)
        || !element.name.endsWith('-to_account') || element.closest('.empty-form')) return false;
    const type = element.closest('tr') && element.closest('tr').querySelector('select[name$="-type"]');
    return !type || type.value === TYPE_C2C;
  }

  function hide() {
    clearTimeout(timer);
    asked += 1;
    suggestions.hidden = true;
    suggestions.replaceChildren();
    active = -1;
    if (input) {
      input.setAttribute('aria-expanded', 'false');
      input.removeAttribute('aria-activedescendant');
    }
  }

  function show(users) {
    suggestions.replaceChildren();
    active = -1;
    if (!users.length) {
      hide();
      return;
    }
    users.forEach((user, index) => {
      const option = document.createElement('li');
      option.id = `pick-user-${index}`;
      option.setAttribute('role', 'option');
      option.dataset.userId = user.user_id;
      const userId = document.createElement('strong');
      userId.textContent = user.user_id;
      option.appendChild(userId);
      if (user.nickname) option.append(` ${user.nickname}`);
      suggestions.appendChild(option);
    });
    const place = input.getBoundingClientRect();
    suggestions.style.left = `${place.left + window.scrollX}px`;
    suggestions.style.top = `${place.bottom + window.scrollY}px`;
    suggestions.style.minWidth = `${place.width}px`;
    suggestions.hidden = false;
    input.setAttribute('aria-expanded', 'true');
  }

  async function suggest(term) {
    const ask = ++asked;
    const url = new URL(box.dataset.usersUrl, window.location.href);
    url.searchParams.set('term', term);
    try {
      const response = await fetch(url, {headers: {Accept: 'application/json'}, credentials: 'same-origin'});
      const data = response.ok ? await response.json() : null;
      if (ask !== asked || document.activeElement !== input) return;
      if (data && Array.isArray(data.users)) show(data.users);
      else hide();
    } catch (error) {
      if (ask === asked) hide();
    }
  }

  function choose(option) {
    input.value = option.dataset.userId;
    hide();
    input.dispatchEvent(new Event('input', {bubbles: true}));
  }

  function highlight(index) {
    const options = suggestions.children;
    if (!options.length) return;
    active = (index + options.length) % options.length;
    Array.from(options).forEach((option, at) => option.setAttribute('aria-selected', at === active ? 'true' : 'false'));
    input.setAttribute('aria-activedescendant', options[active].id);
  }

  document.addEventListener('focusin', (event) => {
    if (!isUserIdBox(event.target)) return;
    input = event.target;
    input.setAttribute('autocomplete', 'off');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-controls', suggestions.id);
  });
  document.addEventListener('focusout', (event) => {
    if (event.target === input) hide();
  });
  document.addEventListener('input', (event) => {
    // Only what staff type: a value this script or the picker puts in is not a question.
    if (!event.isTrusted || event.target !== input || !isUserIdBox(input)) return;
    clearTimeout(timer);
    const term = input.value.trim();
    if (!term) {
      hide();
      return;
    }
    timer = setTimeout(() => suggest(term), SUGGEST_DELAY_MS);
  });
  document.addEventListener('keydown', (event) => {
    if (event.target !== input || suggestions.hidden) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      highlight(active + (event.key === 'ArrowDown' ? 1 : -1));
    } else if (event.key === 'Enter' && active >= 0) {
      event.preventDefault(); // choosing a user does not submit the form
      choose(suggestions.children[active]);
    } else if (event.key === 'Escape') {
      hide();
    }
  });
  suggestions.addEventListener('mousedown', (event) => {
    const option = event.target.closest('li[role="option"]');
    if (!option) return;
    event.preventDefault(); // the box keeps the focus
    choose(option);
  });
})();
