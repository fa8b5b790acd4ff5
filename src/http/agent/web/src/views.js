// Pieces of the page that are pure functions of data: the registration status in words,
// and the recent-calls list items. app.js puts them in place.

import { formatNumber, formatDuration, formatWhen } from './format.js';

/**
 * The status banner for a phone status (see Phone.status()).
 * @returns {{tone: 'ok'|'wait'|'bad', title: string, detail: string, offerReconnect: boolean}}
 */
export function describeStatus(st, prov, online = true) {
  const wss = prov ? prov.wss_url : '';
  const offline = online ? '' : ' This computer is offline.';
  if (st.registered) {
    return {
      tone: 'ok',
      title: 'Registered',
      detail: prov ? `Ready for calls on extension ${prov.extension}.` : '',
      offerReconnect: false,
    };
  }
  if (st.error && st.error.kind === 'transport' && st.connection !== 'connected') {
    const retrying = st.connection === 'connecting';
    const retry = retrying ? `Trying again now (attempt ${st.attempts + 1})…` : 'Retrying automatically.';
    return {
      tone: 'bad',
      title: st.everRegistered ? 'Connection lost' : 'Connection failed',
      detail: `${st.error.message}${offline} ${retry}`,
      offerReconnect: !retrying,
    };
  }
  if (st.error && st.error.kind === 'registration') {
    return { tone: 'bad', title: 'Registration failed', detail: `${st.error.message} Trying again shortly.`, offerReconnect: false };
  }
  if (st.connection === 'connected') {
    return { tone: 'wait', title: 'Registering…', detail: `Connected to ${wss}.`, offerReconnect: false };
  }
  return { tone: 'wait', title: 'Connecting…', detail: wss ? `Connecting to ${wss}.${offline}` : '', offerReconnect: false };
}

/** One <li> per recent call (newest first, at most 50), each with a button to call back. */
export function recentItems(calls, { canCall, onCall }) {
  return calls.slice(0, 50).map((c) => {
    const li = document.createElement('li');
    const inbound = c.direction === 'inbound';
    const missed = c.status === 'missed';
    if (missed) li.classList.add('missed');
    const other = inbound ? c.from : c.to;
    const label = formatNumber(other) || 'Unknown';

    const dir = document.createElement('span');
    dir.className = 'dir';
    dir.setAttribute('aria-hidden', 'true');
    dir.textContent = missed ? '✕' : inbound ? '↙' : '↗';

    const who = document.createElement('span');
    who.className = 'recent-who';
    who.textContent = label;

    const meta = document.createElement('span');
    meta.className = 'recent-meta';
    const kind = missed ? (inbound ? 'Missed' : 'Not answered') : inbound ? 'Incoming' : 'Outgoing';
    const parts = [kind, formatWhen(c.started_at)];
    if (!missed && Number.isFinite(Number(c.duration_s))) parts.push(formatDuration(c.duration_s));
    meta.textContent = parts.filter(Boolean).join(' · ');

    li.append(dir, who, meta);
    if (other) {
      const back = document.createElement('button');
      back.type = 'button';
      back.className = 'btn btn-small';
      back.textContent = 'Call';
      back.setAttribute('aria-label', `Call ${label}`);
      back.disabled = !canCall;
      back.addEventListener('click', () => onCall(other));
      li.append(back);
    }
    return li;
  });
}
