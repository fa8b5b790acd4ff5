// The agent phone page: sign in, keep the SIP registration fresh, show calls and the
// agent's availability. The SIP work is in phone.js, the HTTP calls in api.js; this file
// turns their events into what a person sees and hears.

import * as api from './api.js';
import { Phone, describeMicError } from './phone.js';
import { Ringer } from './ring.js';
import { formatNumber, formatPath, formatDuration, formatAgentState, capitalise } from './format.js';
import { describeStatus, recentItems } from './views.js';

const $ = (id) => document.getElementById(id);

const TOKEN_KEY = 'switchyard.agent.token';
const RING_KEY = 'switchyard.agent.ring';
const DTMF_KEYS = '0123456789*#';

const el = {
  loading: $('loading'),
  loginView: $('login-view'),
  loginForm: $('login-form'),
  loginExt: $('login-extension'),
  loginPass: $('login-password'),
  loginAccount: $('login-account'),
  loginMore: $('login-more'),
  loginError: $('login-error'),
  loginSubmit: $('login-submit'),
  phoneView: $('phone-view'),
  who: $('who'),
  whoName: $('who-name'),
  whoExt: $('who-ext'),
  signOut: $('sign-out'),
  status: $('status'),
  statusTitle: $('status-title'),
  statusDetail: $('status-detail'),
  reconnect: $('reconnect'),
  micError: $('mic-error'),
  notice: $('notice'),
  incoming: $('incoming'),
  incomingName: $('incoming-name'),
  incomingNumber: $('incoming-number'),
  incomingPath: $('incoming-path'),
  answer: $('answer'),
  reject: $('reject'),
  active: $('active'),
  activeTitle: $('active-title'),
  activeName: $('active-name'),
  activeNumber: $('active-number'),
  activePath: $('active-path'),
  activeNote: $('active-note'),
  timer: $('timer'),
  mute: $('mute'),
  hold: $('hold'),
  hangup: $('hangup'),
  transferForm: $('transfer-form'),
  transferTarget: $('transfer-target'),
  transfer: $('transfer'),
  dialer: $('dialer'),
  dialForm: $('dial-form'),
  dialTarget: $('dial-target'),
  dial: $('dial'),
  dialError: $('dial-error'),
  lastCall: $('last-call'),
  keypad: $('keypad'),
  keypadHint: $('keypad-hint'),
  tones: $('tones'),
  agentState: $('agent-state'),
  agentQueues: $('agent-queues'),
  setAvailable: $('set-available'),
  pauseForm: $('pause-form'),
  pauseReason: $('pause-reason'),
  pauseOtherField: $('pause-other-field'),
  pauseOther: $('pause-other'),
  setPaused: $('set-paused'),
  agentError: $('agent-error'),
  recentRefresh: $('recent-refresh'),
  recentStatus: $('recent-status'),
  recentList: $('recent-list'),
  ringSound: $('ring-sound'),
  announce: $('announce'),
  announceUrgent: $('announce-urgent'),
  audio: $('remote-audio'),
};

const phone = new Phone({ audio: el.audio });
const ringer = new Ringer();

const app = {
  token: null,
  prov: null,
  agent: null,
  timers: { refresh: null, recent: null, wrapUp: null, regRetry: null, tick: null },
  lastStatusTitle: '',
  lastCallState: 'idle',
  lastProvAt: 0,
  dtmfSent: '',
};

// ---- small helpers -------------------------------------------------------------------

function say(text, urgent = false) {
  const region = urgent ? el.announceUrgent : el.announce;
  // Clear first so that the same words said twice are announced twice.
  region.textContent = '';
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

function show(node, visible) {
  node.hidden = !visible;
}

function setText(node, text) {
  node.textContent = text || '';
}

function showError(node, text) {
  setText(node, text);
  show(node, !!text);
}

function clearTimer(name) {
  if (app.timers[name]) {
    clearTimeout(app.timers[name]);
    clearInterval(app.timers[name]);
  }
  app.timers[name] = null;
}

function isVisible(node) {
  return !!node && node.isConnected && node.getClientRects().length > 0;
}

function isTyping(target) {
  if (!target || !target.tagName) return false;
  const tag = target.tagName.toLowerCase();
  return tag === 'input' || tag === 'select' || tag === 'textarea' || target.isContentEditable;
}

/** Moves focus to `node` when the focused element is gone, or when `force` is set and the user is not typing. */
function rescueFocus(node, force = false) {
  const active = document.activeElement;
  const lost = !active || active === document.body || !isVisible(active);
  if (lost || (force && !isTyping(active))) node.focus();
}

// ---- sign in and out -----------------------------------------------------------------

function showLogin(message = '') {
  show(el.phoneView, false);
  show(el.who, false);
  show(el.signOut, false);
  show(el.loginView, true);
  showError(el.loginError, message);
  el.loginSubmit.disabled = false;
  setText(el.loginSubmit, 'Sign in');
  document.title = 'Switchyard Agent — sign in';
  if (!el.loginExt.value) el.loginExt.focus();
  else el.loginPass.focus();
}

function showPhone() {
  show(el.loginView, false);
  show(el.phoneView, true);
  show(el.who, true);
  show(el.signOut, true);
}

function signOut(message = '') {
  for (const name of Object.keys(app.timers)) clearTimer(name);
  ringer.stop();
  phone.stop();
  app.token = null;
  app.prov = null;
  app.agent = null;
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage may be off */
  }
  el.loginPass.value = '';
  showLogin(message);
  if (message) say(message);
}

el.loginForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const extension = el.loginExt.value.trim();
  const password = el.loginPass.value;
  const accountId = el.loginAccount.value.trim();
  if (!extension || !password) {
    showError(el.loginError, !extension ? 'Type your extension.' : 'Type your password.');
    (!extension ? el.loginExt : el.loginPass).focus();
    return;
  }
  ringer.prime(); // a user gesture: lets the ring sound play later
  showError(el.loginError, '');
  el.loginSubmit.disabled = true;
  setText(el.loginSubmit, 'Signing in…');
  try {
    const session = await api.createSession({ extension, password, accountId });
    if (!session || !session.token) throw new api.ApiError('The server did not send a sign-in token.');
    await begin(session.token, { fromForm: true });
  } catch (err) {
    el.loginSubmit.disabled = false;
    setText(el.loginSubmit, 'Sign in');
    showError(el.loginError, loginMessage(err));
    el.loginPass.focus();
    el.loginPass.select();
  }
});

function loginMessage(err) {
  if (err instanceof api.ApiError) {
    if (err.status === 401 || err.code === 'AUTH_INVALID') return 'Extension or password not accepted. Check them and try again.';
    if (err.status === 404) return 'Sign-in is not available on this server (HTTP 404). Ask your administrator to check the agent phone is enabled.';
    if (err.status === 0) return `${err.message} Check your network connection and try again.`;
    return `Sign-in failed: ${err.message}`;
  }
  return `Sign-in failed: ${err && err.message ? err.message : err}`;
}

el.signOut.addEventListener('click', () => {
  if (phone.call) return;
  signOut('You are signed out.');
});

/** Starts the phone with a provisioning token. */
async function begin(token, { fromForm = false } = {}) {
  let prov;
  try {
    prov = await api.getProvisioning(token);
  } catch (err) {
    if (fromForm) throw err;
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      /* storage may be off */
    }
    if (err instanceof api.ApiError && err.unauthorized) {
      showLogin('That sign-in link or session has expired or is not valid. Sign in with your extension and password.');
    } else {
      showLogin(`Could not load your phone settings: ${err.message}`);
    }
    return;
  }
  app.token = token;
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    /* storage may be off */
  }
  applyProvisioning(prov);
  showPhone();
  phone.start(prov);
  scheduleRefresh(prov);
  loadRecent();
  clearTimer('recent');
  app.timers.recent = setInterval(() => {
    if (!phone.call) loadRecent();
  }, 60000);
  checkMicrophonePermission();
  el.dialTarget.focus();
}

function applyProvisioning(prov) {
  app.prov = prov;
  app.lastProvAt = Date.now();
  setText(el.whoName, prov.display_name || `Extension ${prov.extension}`);
  setText(el.whoExt, prov.display_name ? `${prov.extension}${prov.account_id ? ' · ' + prov.account_id : ''}` : prov.account_id || '');
  if (prov.agent) renderAgent(prov.agent);
}

/** When to fetch a fresh SIP password: a minute before the current one expires. */
function refreshDelay(expiresAt) {
  const exp = Date.parse(expiresAt || '');
  if (Number.isNaN(exp)) return 10 * 60 * 1000;
  const left = exp - Date.now();
  const delay = left - 60 * 1000;
  if (delay >= 5000) return delay;
  return Math.max(5000, Math.floor(left / 2));
}

function scheduleRefresh(prov) {
  clearTimer('refresh');
  app.timers.refresh = setTimeout(() => syncProvisioning({ reregister: true }), refreshDelay(prov.expires_at));
}

/** Fetches provisioning again: new SIP credentials, the agent's state. */
async function syncProvisioning({ reregister }) {
  if (!app.token) return;
  try {
    const prov = await api.getProvisioning(app.token);
    applyProvisioning(prov);
    phone.refresh(prov, { reregister });
    scheduleRefresh(prov);
  } catch (err) {
    if (err instanceof api.ApiError && err.unauthorized) {
      if (phone.call) {
        // Let the call go on; ask for a new sign-in once it is over.
        app.signOutAfterCall = true;
        return;
      }
      signOut('Your session has ended. Sign in again to take calls.');
      return;
    }
    clearTimer('refresh');
    app.timers.refresh = setTimeout(() => syncProvisioning({ reregister }), 15000);
  }
}

// ---- registration status -------------------------------------------------------------

function renderStatus(st) {
  const { tone, title, detail, offerReconnect } = describeStatus(st, app.prov, navigator.onLine !== false);
  show(el.reconnect, offerReconnect);
  el.status.dataset.tone = tone;
  setText(el.statusTitle, title);
  setText(el.statusDetail, detail);
  if (title !== app.lastStatusTitle) {
    app.lastStatusTitle = title;
    say(tone === 'bad' ? `${title}. ${detail}` : title);
  }
  renderCall(phone.callState());
}

phone.addEventListener('status', (e) => renderStatus(e.detail));

phone.addEventListener('registration-failed', () => {
  // The SIP password is short-lived: a refusal most often means it ran out. Fetch a fresh
  // one at once (at most every 30 s), and keep retrying while the refusals go on.
  clearTimer('regRetry');
  const sinceLast = Date.now() - app.lastProvAt;
  const wait = sinceLast > 30000 ? 0 : 30000;
  app.timers.regRetry = setTimeout(() => syncProvisioning({ reregister: true }), wait);
});

el.reconnect.addEventListener('click', () => {
  phone.reconnect();
  say('Reconnecting.');
});

window.addEventListener('online', () => {
  if (app.token && !phone.registered) phone.reconnect();
});
window.addEventListener('offline', () => renderStatus(phone.status()));

async function checkMicrophonePermission() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    const err = new Error(
      window.isSecureContext ? 'this browser gives pages no access to microphones' : 'the page is not served over HTTPS'
    );
    err.name = 'NotSupportedError';
    showMicError(describeMicError(err));
    return;
  }
  if (!navigator.permissions || !navigator.permissions.query) return;
  try {
    const status = await navigator.permissions.query({ name: 'microphone' });
    const apply = () => {
      if (status.state === 'denied') {
        showMicError(
          'Microphone blocked or missing: NotAllowedError: the browser blocks this page from using the microphone. Allow it for this site (the icon in the address bar) to take calls.'
        );
      } else if (el.micError.dataset.source === 'permission') {
        showMicError('');
      }
      if (status.state === 'denied') el.micError.dataset.source = 'permission';
    };
    apply();
    status.onchange = apply;
  } catch {
    /* the browser cannot tell: we find out on the first call */
  }
}

function showMicError(text) {
  delete el.micError.dataset.source;
  showError(el.micError, text);
  if (text) say(text, true);
}

// ---- calls ---------------------------------------------------------------------------

function remoteLabel(remote) {
  const number = remote && remote.number ? formatNumber(remote.number) : '';
  const name = remote && remote.name ? remote.name : '';
  return { main: name || number || 'Unknown caller', sub: name ? number : '' };
}

function renderCall(cs) {
  const state = cs.callState;
  const registered = phone.registered;
  const idle = state === 'idle';
  const ringing = state === 'ringing';
  const active = !idle && !ringing;
  const connected = state === 'connected';

  show(el.incoming, ringing);
  show(el.active, active);
  show(el.dialer, idle);
  el.dial.disabled = !registered;
  el.dialTarget.disabled = false;
  el.signOut.disabled = !idle;

  if (ringing) {
    const who = remoteLabel(cs.remote);
    setText(el.incomingName, who.main);
    setText(el.incomingNumber, who.sub);
    setText(el.incomingPath, cs.path ? formatPath(cs.path) : '');
    el.answer.disabled = false;
    el.reject.disabled = false;
  }

  if (active) {
    const who = remoteLabel(cs.remote);
    setText(el.activeName, who.main);
    setText(el.activeNumber, who.sub);
    setText(el.activePath, cs.path ? formatPath(cs.path) : '');
    let title;
    if (state === 'dialing') title = 'Calling…';
    else if (state === 'alerting') title = 'Ringing…';
    else if (cs.onHold) title = 'On hold';
    else if (cs.remoteHold) title = 'Held by the other party';
    else title = cs.muted ? 'On a call · muted' : 'On a call';
    setText(el.activeTitle, title);
    el.active.classList.toggle('on-hold', connected && (cs.onHold || cs.remoteHold));
    show(el.timer, connected);
    el.mute.disabled = !connected;
    el.hold.disabled = !connected;
    el.transfer.disabled = !connected || cs.transfer === 'requested' || cs.transfer === 'accepted';
    el.transferTarget.disabled = !connected;
    setText(el.mute, cs.muted ? 'Unmute' : 'Mute');
    el.mute.classList.toggle('on', cs.muted);
    setText(el.hold, cs.onHold ? 'Resume' : 'Hold');
    el.hold.classList.toggle('on', cs.onHold);
    setText(el.hangup, connected ? 'Hang up' : 'Cancel call');
    el.hangup.setAttribute('aria-label', 'Hang up');

    let note = '';
    let bad = false;
    if (cs.transfer === 'requested') note = `Transferring to ${cs.transferTarget}…`;
    else if (cs.transfer === 'accepted') note = `Transferred to ${cs.transferTarget}.`;
    else if (cs.transfer === 'failed') {
      note = `Transfer to ${cs.transferTarget} failed: ${cs.transferError}. You are still on the call.`;
      bad = true;
    }
    setText(el.activeNote, note);
    el.activeNote.classList.toggle('bad', bad);
    show(el.activeNote, !!note);
  }

  // The keypad dials when idle and sends tones in a call.
  const keypadOn = idle || connected;
  for (const key of el.keypad.querySelectorAll('button')) key.disabled = !keypadOn;
  setText(
    el.keypadHint,
    connected ? 'Sends tones to the call. You can also type digits, * and #.' : idle ? 'Digits go into the number to call.' : 'Available once the call connects.'
  );
  for (const b of el.recentList.querySelectorAll('button')) b.disabled = !idle || !registered;

  // Timer and title.
  if (connected && !app.timers.tick) {
    app.timers.tick = setInterval(tick, 1000);
  } else if (!connected) {
    clearTimer('tick');
  }
  if (connected) tick();

  if (ringing) document.title = `Incoming call — ${remoteLabel(cs.remote).main}`;
  else if (active) document.title = `${connected ? 'On a call' : 'Calling'} — ${remoteLabel(cs.remote).main}`;
  else document.title = 'Switchyard Agent';

  // Focus and announcements on transitions.
  const before = app.lastCallState;
  app.lastCallState = state;
  if (state !== before) {
    if (ringing) {
      rescueFocus(el.answer, true);
    } else if (connected) {
      ringer.stop();
      app.dtmfSent = '';
      setText(el.tones, '');
      rescueFocus(el.hangup);
      say(`Connected to ${remoteLabel(cs.remote).main}.`);
    } else if (active) {
      rescueFocus(el.hangup);
      say(`Calling ${remoteLabel(cs.remote).main}.`);
    } else if (idle) {
      app.dtmfSent = '';
      setText(el.tones, '');
      rescueFocus(el.dialTarget);
    }
  }
}

function tick() {
  const cs = phone.callState();
  if (cs.startedAt) setText(el.timer, formatDuration((Date.now() - cs.startedAt) / 1000));
}

phone.addEventListener('call', (e) => renderCall(e.detail));

phone.addEventListener('incoming', (e) => {
  const info = e.detail;
  showError(el.dialError, '');
  const who = info.callerName ? `${info.callerName}, ${formatNumber(info.caller)}` : formatNumber(info.caller) || 'unknown caller';
  const path = formatPath(info);
  say(`Incoming call from ${who}.${path ? ' ' + path + '.' : ''}`, true);
  if (el.ringSound.checked) ringer.start();
});

phone.addEventListener('ended', (e) => {
  ringer.stop();
  const { message, remote, duration } = e.detail;
  const who = remoteLabel(remote).main;
  const took = duration !== null ? `, ${formatDuration(duration)}` : '';
  setText(el.lastCall, `Last call: ${who}${took}. ${message}`);
  show(el.lastCall, true);
  say(message);
  // The switch writes the call record as the call ends: look twice.
  setTimeout(loadRecent, 600);
  setTimeout(loadRecent, 3000);
  setTimeout(() => syncProvisioning({ reregister: false }), 1200);
  if (app.signOutAfterCall) {
    app.signOutAfterCall = false;
    signOut('Your session has ended. Sign in again to take calls.');
  }
});

phone.addEventListener('notice', (e) => {
  showError(el.notice, e.detail.message);
  say(e.detail.message);
  clearTimer('notice');
  app.timers.notice = setTimeout(() => showError(el.notice, ''), 15000);
});

el.answer.addEventListener('click', async () => {
  el.answer.disabled = true;
  ringer.stop();
  try {
    await phone.answer();
    showMicError('');
  } catch (err) {
    if (err.mic) showMicError(err.message);
    else say(err.message);
    el.answer.disabled = false;
    if (phone.call && phone.call.status === 'ringing' && el.ringSound.checked) ringer.start();
  }
});

el.reject.addEventListener('click', () => {
  ringer.stop();
  try {
    phone.reject();
  } catch (err) {
    say(err.message);
  }
});

el.hangup.addEventListener('click', () => {
  try {
    phone.hangup();
  } catch (err) {
    say(err.message);
  }
});

el.mute.addEventListener('click', () => {
  try {
    const muted = !phone.callState().muted;
    phone.setMuted(muted);
    say(muted ? 'Microphone muted.' : 'Microphone on.');
  } catch (err) {
    say(err.message);
  }
});

el.hold.addEventListener('click', () => {
  try {
    const hold = !phone.callState().onHold;
    phone.setHold(hold);
    say(hold ? 'Call on hold.' : 'Call resumed.');
  } catch (err) {
    say(err.message);
  }
});

el.transferForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const target = el.transferTarget.value.trim();
  if (!target) {
    say('Type the extension to transfer to.');
    el.transferTarget.focus();
    return;
  }
  try {
    phone.transfer(target);
    say(`Transferring to ${target}.`);
    el.transferTarget.value = '';
  } catch (err) {
    say(err.message);
  }
});

el.dialForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  placeCall(el.dialTarget.value);
});

async function placeCall(target) {
  showError(el.dialError, '');
  ringer.prime();
  if (!String(target || '').trim()) {
    showError(el.dialError, 'Type a number or an extension to call.');
    el.dialTarget.focus();
    return;
  }
  el.dial.disabled = true;
  try {
    await phone.dial(target);
    showMicError('');
    el.dialTarget.value = '';
  } catch (err) {
    if (err.mic) showMicError(err.message);
    else showError(el.dialError, err.message);
  } finally {
    renderCall(phone.callState());
  }
}

// ---- keypad and keyboard -------------------------------------------------------------

function pressKey(key) {
  const cs = phone.callState();
  const button = el.keypad.querySelector(`button[data-key="${CSS.escape(key)}"]`);
  if (button) {
    button.classList.add('pressed');
    setTimeout(() => button.classList.remove('pressed'), 150);
  }
  if (cs.callState === 'connected') {
    try {
      phone.sendDtmf(key);
      app.dtmfSent = (app.dtmfSent + key).slice(-24);
      setText(el.tones, `Sent: ${app.dtmfSent}`);
    } catch (err) {
      say(err.message);
    }
  } else if (cs.callState === 'idle') {
    el.dialTarget.value += key;
  }
}

// One tab stop for the whole keypad; the arrow keys move between its keys.
const keys = [...el.keypad.querySelectorAll('button[data-key]')];
function rove(to) {
  keys.forEach((k, i) => (k.tabIndex = i === to ? 0 : -1));
}
rove(0);
el.keypad.addEventListener('focusin', (ev) => {
  const i = keys.indexOf(ev.target);
  if (i >= 0) rove(i);
});
el.keypad.addEventListener('keydown', (ev) => {
  const i = keys.indexOf(document.activeElement);
  if (i < 0) return;
  const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 3, ArrowUp: -3, Home: -i, End: keys.length - 1 - i };
  if (!(ev.key in moves)) return;
  ev.preventDefault();
  const to = Math.min(keys.length - 1, Math.max(0, i + moves[ev.key]));
  rove(to);
  keys[to].focus();
});

el.keypad.addEventListener('click', (ev) => {
  const button = ev.target.closest('button[data-key]');
  if (button && !button.disabled) pressKey(button.dataset.key);
});

document.addEventListener('keydown', (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || !DTMF_KEYS.includes(ev.key) || ev.key.length !== 1) return;
  if (isTyping(ev.target) || el.phoneView.hidden) return;
  const cs = phone.callState();
  if (cs.callState === 'connected') {
    ev.preventDefault();
    pressKey(ev.key);
  } else if (cs.callState === 'idle') {
    // Typing a number anywhere on the page starts the number to call.
    ev.preventDefault();
    el.dialTarget.focus();
    el.dialTarget.value += ev.key;
  }
});

window.addEventListener('beforeunload', (ev) => {
  if (phone.call) {
    ev.preventDefault();
    ev.returnValue = '';
  }
});

// ---- agent availability --------------------------------------------------------------

function renderAgent(agent) {
  app.agent = agent;
  const state = agent && agent.state ? agent.state : 'unknown';
  el.agentState.dataset.state = state;
  let text = formatAgentState(state);
  if (state === 'paused' && agent.reason) text += ` — ${capitalise(agent.reason)}`;
  setText(el.agentState, text);
  const queues = (agent && Array.isArray(agent.queues) && agent.queues) || [];
  setText(el.agentQueues, queues.length ? `Queues: ${queues.join(', ')}` : 'Not a member of any queue.');
  el.setAvailable.classList.toggle('current', state === 'available');

  clearTimer('wrapUp');
  if (state === 'wrap_up') {
    // Wrap-up ends on the switch's clock: look again shortly.
    app.timers.wrapUp = setTimeout(() => syncProvisioning({ reregister: false }), 5000);
  }
}

async function setPresence(state, reason) {
  showError(el.agentError, '');
  el.setAvailable.disabled = true;
  el.setPaused.disabled = true;
  try {
    const agent = await api.setPresence(app.token, state, reason);
    renderAgent(agent && agent.state ? agent : { ...app.agent, state, reason: reason || null });
    say(`You are ${el.agentState.textContent}.`);
  } catch (err) {
    if (err instanceof api.ApiError && err.unauthorized) {
      signOut('Your session has ended. Sign in again to take calls.');
      return;
    }
    showError(el.agentError, `Could not change your availability: ${err.message}`);
  } finally {
    el.setAvailable.disabled = false;
    el.setPaused.disabled = false;
  }
}

el.setAvailable.addEventListener('click', () => setPresence('available'));

el.pauseReason.addEventListener('change', () => {
  const other = el.pauseReason.value === 'other';
  show(el.pauseOtherField, other);
  if (other) el.pauseOther.focus();
});

el.pauseForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  let reason = el.pauseReason.value;
  if (reason === 'other') {
    reason = el.pauseOther.value.trim();
    if (!reason) {
      showError(el.agentError, 'Type a reason for the pause.');
      el.pauseOther.focus();
      return;
    }
  }
  setPresence('paused', reason);
});

// ---- recent calls --------------------------------------------------------------------

let recentLoading = false;

async function loadRecent() {
  if (!app.token || recentLoading) return;
  recentLoading = true;
  el.recentRefresh.disabled = true;
  try {
    const calls = await api.getCalls(app.token);
    if (!Array.isArray(calls)) throw new api.ApiError('the answer was not a list');
    renderRecent(calls);
  } catch (err) {
    if (err instanceof api.ApiError && err.unauthorized) {
      recentLoading = false;
      if (!phone.call) signOut('Your session has ended. Sign in again to take calls.');
      return;
    }
    el.recentList.replaceChildren();
    setText(el.recentStatus, `Recent calls are unavailable right now (${err.message}).`);
    show(el.recentStatus, true);
  } finally {
    recentLoading = false;
    el.recentRefresh.disabled = false;
  }
}

function renderRecent(calls) {
  const items = recentItems(calls, { canCall: !phone.call && phone.registered, onCall: placeCall });
  el.recentList.replaceChildren(...items);
  setText(el.recentStatus, items.length ? '' : 'No calls yet.');
  show(el.recentStatus, !items.length);
}

el.recentRefresh.addEventListener('click', loadRecent);

// ---- settings ------------------------------------------------------------------------

try {
  el.ringSound.checked = localStorage.getItem(RING_KEY) !== 'off';
} catch {
  /* storage may be off */
}
el.ringSound.addEventListener('change', () => {
  try {
    localStorage.setItem(RING_KEY, el.ringSound.checked ? 'on' : 'off');
  } catch {
    /* storage may be off */
  }
  if (!el.ringSound.checked) ringer.stop();
  else if (phone.callState().callState === 'ringing') ringer.start();
});

// ---- test hook -----------------------------------------------------------------------

window.switchyardAgent = {
  state() {
    const cs = phone.callState();
    return {
      registered: phone.registered,
      inCall: cs.inCall,
      onHold: cs.onHold,
      muted: cs.muted,
      callState: cs.callState,
      connection: phone.connection,
      agentState: app.agent ? app.agent.state : null,
      calls: phone.callCount,
      lastEnd: phone.ended ? phone.ended.message : null,
      signedIn: !!app.token,
    };
  },
  stats() {
    return phone.stats();
  },
  lastIncoming() {
    return phone.lastIncomingInfo ? { ...phone.lastIncomingInfo } : null;
  },
};

// ---- start ---------------------------------------------------------------------------

function start() {
  const url = new URL(window.location.href);
  const linkToken = url.searchParams.get('token');
  if (linkToken) {
    // Keep the token out of the address bar and the history.
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  let stored = null;
  try {
    stored = sessionStorage.getItem(TOKEN_KEY);
  } catch {
    /* storage may be off */
  }
  const token = linkToken || stored;
  if (token) {
    show(el.loginView, false);
    show(el.loading, true);
    begin(token).finally(() => show(el.loading, false));
  } else {
    showLogin();
  }
}

start();
