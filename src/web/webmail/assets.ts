/**
 * The webmail's one script, served by the node at /assets/webmail.js
 * (CSP script-src 'self'; nothing inline, nothing from elsewhere). Pages
 * work without it; it adds two things:
 *
 * - live updates: it listens to /mail/events (live.ts) and, when a folder
 *   of the user changes, re-reads the page's message list URL and swaps in
 *   the fresh folder list (unread counts) and message list, keeping the
 *   keyboard focus on the same row;
 * - keyboard navigation of the list: j / ArrowDown and k / ArrowUp move
 *   through the messages, Enter opens one (it is a link), "/" goes to the
 *   search field; on a message, Escape goes back to the list. Keys typed
 *   into a field are left alone.
 *
 * Plain JavaScript in a string: a few dozen lines need no bundler, and the
 * front end stays what tsc builds.
 */
export const clientScript = `'use strict';
(function () {
  var listUrl = document.body.getAttribute('data-list-url');

  function rows() { return Array.prototype.slice.call(document.querySelectorAll('#message-list a.subject')); }

  function swap(fresh, selector) {
    var now = document.querySelector(selector);
    var next = fresh.querySelector(selector);
    if (now && next) now.replaceWith(next);
  }

  var refreshing = false, again = false, timer = null;
  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    var focused = rows().indexOf(document.activeElement);
    var focusedHref = focused >= 0 ? document.activeElement.getAttribute('href') : null;
    fetch(listUrl, { credentials: 'same-origin', headers: { Accept: 'text/html' } }).then(function (res) {
      if (!res.ok || res.redirected) return null;
      return res.text();
    }).then(function (html) {
      if (html === null) return;
      var fresh = new DOMParser().parseFromString(html, 'text/html');
      swap(fresh, 'nav.folders');
      if (document.getElementById('message-list')) swap(fresh, '#message-list');
      if (focusedHref !== null) {
        var list = rows();
        var same = list.filter(function (a) { return a.getAttribute('href') === focusedHref; })[0];
        var target = same || list[Math.min(focused, list.length - 1)];
        if (target) target.focus();
      }
    }).catch(function () { /* the next change or a reload will show it */ }).then(function () {
      refreshing = false;
      if (again) { again = false; refresh(); }
    });
  }

  if (listUrl && window.EventSource) {
    var events = new EventSource('/mail/events');
    var soon = function () { clearTimeout(timer); timer = setTimeout(refresh, 150); };
    events.addEventListener('mailbox', soon);
    events.addEventListener('resync', soon);
    // Whether the page is live, for styling and for tests that wait for it.
    events.addEventListener('open', function () { document.body.setAttribute('data-live', 'on'); });
    events.addEventListener('error', function () { document.body.setAttribute('data-live', 'off'); });
  }

  document.addEventListener('keydown', function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    var t = e.target;
    if (t && t.closest && t.closest('input, textarea, select, [contenteditable]')) return;
    var list = rows();
    if (e.key === '/') {
      var search = document.getElementById('q');
      if (search) { e.preventDefault(); search.focus(); }
      return;
    }
    if (e.key === 'Escape') {
      var back = document.getElementById('back-to-list');
      if (back) { e.preventDefault(); back.click(); }
      return;
    }
    var down = e.key === 'j' || e.key === 'ArrowDown';
    var up = e.key === 'k' || e.key === 'ArrowUp';
    if (!(down || up) || list.length === 0) return;
    var at = list.indexOf(document.activeElement);
    // Arrow keys move through the list only from within it (or from nowhere); j and k always do.
    if (at < 0 && (e.key === 'ArrowDown' || e.key === 'ArrowUp') && document.activeElement && document.activeElement !== document.body) return;
    e.preventDefault();
    var next = at < 0 ? (down ? 0 : list.length - 1) : Math.max(0, Math.min(list.length - 1, at + (down ? 1 : -1)));
    list[next].focus();
  });
})();
`;
