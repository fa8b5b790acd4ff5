// The SIP side of the page: one JsSIP user agent registered over WebSocket, and at most one
// call at a time. It knows nothing of the DOM except the <audio> element it feeds; the page
// listens to its events ('status', 'call', 'incoming', 'ended', 'notice') and reads its state.

import JsSIP from 'jssip';

/** Reads one X-Switchyard-* header of an INVITE, or null. */
function header(request, name) {
  if (!request || !request.hasHeader(name)) return null;
  const v = String(request.getHeader(name) || '').trim();
  return v === '' ? null : v;
}

/** The SIP domain part of "sip:1001@demo.switchyard.test". */
function domainOf(sipUri) {
  const m = /^sips?:(?:[^@]*@)?([^;?>]+)/i.exec(String(sipUri || ''));
  return m ? m[1] : '';
}

/** A number typed by a person, as the user part of a SIP URI. */
export function dialString(typed) {
  const t = String(typed || '').trim();
  if (/^sips?:/i.test(t)) return t;
  if (t.includes('@')) return t;
  return t.replace(/[\s\-().]/g, '');
}

/** Words for a JsSIP end or failure cause, from the point of view of the agent. */
function describeEnd(direction, established, originator, cause, message) {
  const C = JsSIP.C.causes;
  const status = message && message.status_code ? `${message.status_code} ${message.reason_phrase || ''}`.trim() : '';
  if (established) {
    if (cause === C.BYE) return originator === 'remote' ? 'The other party hung up.' : 'Call ended.';
    if (cause === C.RTP_TIMEOUT) return 'Call ended: the audio stopped arriving.';
    if (cause === C.REQUEST_TIMEOUT || cause === C.CONNECTION_ERROR) return 'Call dropped: the connection to the switch was lost.';
    return `Call ended (${cause}).`;
  }
  if (direction === 'inbound') {
    if (cause === C.CANCELED) return 'Missed call: the caller hung up or another agent answered.';
    if (originator === 'local' && cause === C.REJECTED) return 'Call rejected.';
    if (cause === C.USER_DENIED_MEDIA_ACCESS) return 'Call not answered: the microphone could not be used.';
    return `Call not connected (${cause}).`;
  }
  if (originator === 'local' && cause === C.CANCELED) return 'Call cancelled.';
  if (cause === C.BUSY) return 'Busy.';
  if (cause === C.NOT_FOUND) return 'No such number or extension.';
  if (cause === C.UNAVAILABLE) return 'Not reachable right now.';
  if (cause === C.NO_ANSWER) return 'No answer.';
  if (cause === C.REJECTED) return 'The call was declined.';
  if (cause === C.USER_DENIED_MEDIA_ACCESS) return 'Call not placed: the microphone could not be used.';
  return status ? `Call failed: ${status}.` : `Call failed (${cause}).`;
}

/** Plain words for a getUserMedia failure. */
export function describeMicError(err) {
  const name = (err && err.name) || 'Error';
  const msg = (err && err.message) || String(err);
  let hint = '';
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    hint = ' Allow microphone access for this site in the browser (the icon in the address bar), then try again.';
  } else if (name === 'NotFoundError' || name === 'OverconstrainedError') {
    hint = ' No microphone was found: connect one, then try again.';
  } else if (name === 'NotReadableError' || name === 'AbortError') {
    hint = ' Another program may be using the microphone.';
  }
  return `Microphone blocked or missing: ${name}: ${msg}.${hint}`;
}

export class Phone extends EventTarget {
  /** @param {{audio: HTMLAudioElement}} opts */
  constructor({ audio }) {
    super();
    this.audio = audio;
    this.ua = null;
    this.prov = null;
    this.connection = 'idle'; // idle | connecting | connected | disconnected
    this.registered = false;
    this.everRegistered = false;
    this.attempts = 0;
    this.lastError = null; // {kind: 'transport'|'registration', message}
    this.call = null; // see _track()
    this.lastIncomingInfo = null;
    this.ended = null; // last end: {direction, message, remote, duration}
    this.callCount = 0; // calls seen since the page loaded, both ways
  }

  // ---- user agent -------------------------------------------------------------------

  /** Starts (or restarts) the user agent with these provisioning details. */
  start(prov) {
    this.stop();
    this.prov = prov;
    const socket = new JsSIP.WebSocketInterface(prov.wss_url);
    const ua = new JsSIP.UA({
      sockets: [socket],
      uri: prov.sip_uri,
      authorization_user: prov.authorization_user,
      password: prov.password,
      realm: prov.realm || undefined,
      display_name: prov.display_name || undefined,
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: 'Switchyard Agent (JsSIP)',
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 20,
    });
    this.ua = ua;
    this.attempts = 0;
    this.lastError = null;
    this._setStatus({ connection: 'connecting', registered: false });

    ua.on('connecting', (e) => {
      if (ua !== this.ua) return;
      this.attempts = e.attempts || 0;
      this._setStatus({ connection: 'connecting' });
    });
    ua.on('connected', () => {
      if (ua !== this.ua) return;
      this.attempts = 0;
      if (this.lastError && this.lastError.kind === 'transport') this.lastError = null;
      this._setStatus({ connection: 'connected' });
    });
    ua.on('disconnected', (e) => {
      if (ua !== this.ua) return;
      const code = e && e.code ? e.code : null;
      const why = code ? ` (WebSocket code ${code}${e.reason ? ': ' + e.reason : ''})` : '';
      let message;
      if (this.connection === 'connected') {
        message = `The connection to the switch at ${prov.wss_url} closed${why}.`;
      } else if (code === 1006 && !e.reason && !this.everRegistered) {
        // 1006 is all a browser says when a socket never opened.
        message = `Could not reach the switch at ${prov.wss_url}: no answer, or a certificate the browser does not trust (WebSocket code 1006).`;
      } else {
        message = `Could not reach the switch at ${prov.wss_url}${why}.`;
      }
      this.lastError = { kind: 'transport', message };
      this._setStatus({ connection: 'disconnected', registered: false });
    });
    ua.on('registered', () => {
      if (ua !== this.ua) return;
      this.everRegistered = true;
      this.lastError = null;
      this._setStatus({ registered: true });
    });
    ua.on('unregistered', () => {
      if (ua !== this.ua) return;
      this._setStatus({ registered: false });
    });
    ua.on('registrationFailed', (e) => {
      if (ua !== this.ua) return;
      const r = e.response;
      const message = r
        ? `The switch refused the registration: ${`${r.status_code} ${r.reason_phrase || ''}`.trim()}.`
        : `The switch did not answer the registration (${e.cause}).`;
      this.lastError = { kind: 'registration', message, cause: e.cause };
      this._setStatus({ registered: false });
      this._emit('registration-failed', { cause: e.cause });
    });
    ua.on('newRTCSession', (e) => {
      if (ua !== this.ua) return;
      this._onSession(e);
    });
    ua.start();
  }

  /**
   * Takes fresh provisioning (a new short-lived password). Applies the credentials to the
   * running user agent and re-registers; restarts it when the server or identity changed
   * and no call is up.
   */
  refresh(prov, { reregister = true } = {}) {
    const old = this.prov;
    if (!this.ua || !old || old.wss_url !== prov.wss_url || old.sip_uri !== prov.sip_uri) {
      if (!this.call) {
        this.start(prov);
        return;
      }
    }
    this.prov = prov;
    this.ua.set('authorization_user', prov.authorization_user);
    this.ua.set('password', prov.password);
    if (prov.realm) this.ua.set('realm', prov.realm);
    if (reregister && this.ua.isConnected()) this.ua.register();
  }

  /** Reconnects now instead of waiting for the next automatic attempt. */
  reconnect() {
    if (this.prov) this.start(this.prov);
  }

  stop() {
    if (this.call) this._endCall();
    const ua = this.ua;
    this.ua = null;
    if (ua) {
      try {
        ua.stop();
      } catch {
        /* the socket may already be gone */
      }
    }
    this.connection = 'idle';
    this.registered = false;
  }

  get domain() {
    return (this.prov && (domainOf(this.prov.sip_uri) || this.prov.realm)) || '';
  }

  _setStatus(change) {
    Object.assign(this, change);
    this._emit('status', this.status());
  }

  status() {
    return {
      connection: this.connection,
      registered: this.registered,
      everRegistered: this.everRegistered,
      attempts: this.attempts,
      error: this.lastError,
    };
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // ---- calls ------------------------------------------------------------------------

  _onSession({ originator, session, request }) {
    if (originator === 'remote') {
      if (this.call) {
        // One line: a second call while busy is turned away (the switch tries elsewhere).
        session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
        this._emit('notice', { message: `Another call came in from ${session.remote_identity.uri.user} while you were busy.` });
        return;
      }
      const from = request.from;
      const wait = header(request, 'X-Switchyard-Queue-Wait');
      const info = {
        caller: from && from.uri ? from.uri.user : session.remote_identity.uri.user,
        callerName: (from && from.display_name) || session.remote_identity.display_name || null,
        did: header(request, 'X-Switchyard-DID'),
        ivr: header(request, 'X-Switchyard-IVR'),
        queue: header(request, 'X-Switchyard-Queue'),
        wait: wait === null ? null : Number.isFinite(Number(wait)) ? Number(wait) : wait,
        ringGroup: header(request, 'X-Switchyard-Ring-Group'),
      };
      this.lastIncomingInfo = info;
      this._track(session, 'inbound', 'ringing', { number: info.caller, name: info.callerName }, info);
      this._emit('incoming', info);
    } else {
      const uri = session.remote_identity.uri;
      this._track(session, 'outbound', 'dialing', { number: uri.user, name: session.remote_identity.display_name || null }, null);
    }
  }

  _track(session, direction, status, remote, path) {
    const call = {
      session,
      direction,
      status, // ringing | dialing | alerting | connected
      remote,
      path,
      startedAt: null,
      localStream: null,
      transfer: null, // null | 'requested' | 'failed'
      remoteHold: false,
    };
    this.call = call;
    this.callCount += 1;
    const changed = () => {
      if (this.call === call) this._emit('call', this.callState());
    };
    const attach = (pc) => this._attachPeer(pc, call);
    if (session.connection) attach(session.connection);
    else session.on('peerconnection', (e) => attach(e.peerconnection));

    let capTimer = null;
    session.on('icecandidate', (e) => {
      // Send the offer/answer at most 2 s after the first candidate, even if gathering drags on.
      if (!capTimer) capTimer = setTimeout(e.ready, 2000);
    });
    session.on('progress', () => {
      if (direction === 'outbound' && call.status === 'dialing') {
        call.status = 'alerting';
        changed();
      }
    });
    session.on('accepted', () => {
      call.status = 'connected';
      call.startedAt = Date.now();
      changed();
    });
    session.on('confirmed', () => {
      if (call.status !== 'connected') {
        call.status = 'connected';
        call.startedAt = call.startedAt || Date.now();
      }
      changed();
    });
    session.on('hold', (e) => {
      if (e.originator === 'remote') call.remoteHold = true;
      changed();
    });
    session.on('unhold', (e) => {
      if (e.originator === 'remote') call.remoteHold = false;
      changed();
    });
    session.on('muted', changed);
    session.on('unmuted', changed);
    const finish = (e) => {
      if (capTimer) clearTimeout(capTimer);
      const established = call.startedAt !== null;
      let message = describeEnd(direction, established, e.originator, e.cause, e.message);
      if (call.transfer === 'accepted' || call.transfer === 'requested') {
        message = `Transferred to ${call.transferTarget}.`;
      }
      const duration = established ? Math.round((Date.now() - call.startedAt) / 1000) : null;
      if (this.call === call) this._endCall();
      this.ended = { direction, message, established, remote: call.remote, duration };
      this._emit('ended', this.ended);
    };
    session.on('ended', finish);
    session.on('failed', finish);
    changed();
  }

  _attachPeer(pc, call) {
    call.pc = pc;
    const play = (stream) => {
      if (this.audio.srcObject !== stream) this.audio.srcObject = stream;
      const p = this.audio.play();
      if (p && p.catch) p.catch(() => {});
    };
    pc.addEventListener('track', (e) => {
      if (e.track.kind !== 'audio') return;
      play(e.streams && e.streams[0] ? e.streams[0] : new MediaStream([e.track]));
    });
    // Tracks that arrived before we listened (outgoing calls with early media).
    const receivers = pc.getReceivers ? pc.getReceivers() : [];
    const live = receivers.map((r) => r.track).filter((t) => t && t.kind === 'audio');
    if (live.length) play(new MediaStream(live));
  }

  _endCall() {
    const call = this.call;
    this.call = null;
    if (!call) return;
    if (call.localStream) call.localStream.getTracks().forEach((t) => t.stop());
    try {
      if (!call.session.isEnded()) call.session.terminate();
    } catch {
      /* already gone */
    }
    this.audio.srcObject = null;
    this._emit('call', this.callState());
  }

  async _microphone() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      const err = new Error(
        window.isSecureContext
          ? 'this browser gives pages no access to microphones'
          : 'the page is not served over HTTPS, so the browser offers no microphone'
      );
      err.name = 'NotSupportedError';
      throw err;
    }
    return navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  }

  _pcConfig() {
    const servers = (this.prov && Array.isArray(this.prov.ice_servers) && this.prov.ice_servers) || [];
    return { iceServers: servers };
  }

  /** Answers the ringing call. Throws (with a readable message) if the microphone fails. */
  async answer() {
    const call = this.call;
    if (!call || call.direction !== 'inbound' || call.status !== 'ringing') throw new Error('There is no ringing call to answer.');
    let stream;
    try {
      stream = await this._microphone();
    } catch (err) {
      const e = new Error(describeMicError(err));
      e.mic = true;
      throw e;
    }
    if (this.call !== call || call.session.isEnded()) {
      stream.getTracks().forEach((t) => t.stop());
      throw new Error('The caller hung up before the call was answered.');
    }
    call.localStream = stream;
    call.session.answer({ mediaStream: stream, pcConfig: this._pcConfig() });
  }

  reject() {
    const call = this.call;
    if (!call || call.status !== 'ringing') throw new Error('There is no ringing call to reject.');
    call.session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
  }

  hangup() {
    const call = this.call;
    if (!call) throw new Error('There is no call to hang up.');
    call.session.terminate();
  }

  /** Places a call to an extension, a number, or a SIP URI. */
  async dial(typed) {
    if (this.call) throw new Error('Finish the current call first.');
    if (!this.ua || !this.registered) throw new Error('The phone is not registered yet.');
    const target = dialString(typed);
    if (!target) throw new Error('Type a number or an extension to call.');
    let stream;
    try {
      stream = await this._microphone();
    } catch (err) {
      const e = new Error(describeMicError(err));
      e.mic = true;
      throw e;
    }
    const uri = /^sips?:/i.test(target) ? target : target.includes('@') ? `sip:${target}` : `sip:${target}@${this.domain}`;
    let session;
    try {
      session = this.ua.call(uri, { mediaStream: stream, pcConfig: this._pcConfig() });
    } catch (err) {
      stream.getTracks().forEach((t) => t.stop());
      throw new Error(`Could not place the call: ${err.message}`);
    }
    if (this.call && this.call.session === session) this.call.localStream = stream;
    else stream.getTracks().forEach((t) => t.stop());
  }

  setMuted(muted) {
    const call = this._connected();
    if (muted) call.session.mute({ audio: true });
    else call.session.unmute({ audio: true });
  }

  setHold(hold) {
    const call = this._connected();
    const ok = hold ? call.session.hold() : call.session.unhold();
    if (ok === false && call.session.isOnHold().local !== hold) {
      throw new Error(hold ? 'The call cannot be put on hold right now.' : 'The call cannot be resumed right now.');
    }
  }

  sendDtmf(digit) {
    const call = this._connected();
    // SIP INFO (application/dtmf-relay): the switch reports it like an in-band digit
    call.session.sendDTMF(digit, { transportType: 'INFO', duration: 160 });
  }

  /** Blind transfer: the switch takes the call to the target; our side then ends. */
  transfer(typed) {
    const call = this._connected();
    const target = dialString(typed);
    if (!target) throw new Error('Type the extension to transfer to.');
    const uri = /^sips?:/i.test(target) ? target : target.includes('@') ? `sip:${target}` : `sip:${target}@${this.domain}`;
    call.transfer = 'requested';
    call.transferTarget = typed.trim();
    const changed = () => {
      if (this.call === call) this._emit('call', this.callState());
    };
    call.session.refer(uri, {
      eventHandlers: {
        requestSucceeded: changed,
        requestFailed: (e) => {
          call.transfer = 'failed';
          const r = e && e.response;
          call.transferError = r ? `${r.status_code} ${r.reason_phrase || ''}`.trim() : (e && e.cause) || 'refused';
          changed();
        },
        accepted: () => {
          call.transfer = 'accepted';
          changed();
          // The target took the call: nothing more for us on this leg.
          try {
            if (!call.session.isEnded()) call.session.terminate();
          } catch {
            /* already gone */
          }
        },
        failed: (e) => {
          call.transfer = 'failed';
          const r = e && e.response;
          call.transferError = r ? `${r.status_code} ${r.reason_phrase || ''}`.trim() : 'the target did not take the call';
          changed();
        },
      },
    });
    changed();
  }

  _connected() {
    const call = this.call;
    if (!call || call.status !== 'connected') throw new Error('There is no connected call.');
    return call;
  }

  /** What the page (and the test hook) needs to know about the call. */
  callState() {
    const call = this.call;
    if (!call) {
      return { callState: 'idle', inCall: false, onHold: false, muted: false, remoteHold: false, direction: null };
    }
    const hold = call.session.isOnHold ? call.session.isOnHold() : { local: false, remote: false };
    const muted = call.session.isMuted ? call.session.isMuted() : { audio: false };
    return {
      callState: call.status,
      inCall: call.status === 'connected',
      onHold: !!hold.local,
      muted: !!muted.audio,
      remoteHold: call.remoteHold,
      direction: call.direction,
      remote: call.remote,
      path: call.path,
      startedAt: call.startedAt,
      transfer: call.transfer,
      transferTarget: call.transferTarget || null,
      transferError: call.transferError || null,
    };
  }

  /** Figures from the call's RTCPeerConnection, or null without one. */
  async stats() {
    const call = this.call;
    const pc = call && (call.pc || call.session.connection);
    if (!pc) return null;
    const report = await pc.getStats();
    const out = {
      inbound: { packetsReceived: 0, audioLevel: null, bytesReceived: 0 },
      outbound: { packetsSent: 0 },
    };
    let trackLevel = null;
    report.forEach((s) => {
      const kind = s.kind || s.mediaType;
      if (s.type === 'inbound-rtp' && kind === 'audio') {
        out.inbound.packetsReceived += s.packetsReceived || 0;
        out.inbound.bytesReceived += s.bytesReceived || 0;
        if (typeof s.audioLevel === 'number') out.inbound.audioLevel = Math.max(out.inbound.audioLevel || 0, s.audioLevel);
      } else if (s.type === 'outbound-rtp' && kind === 'audio') {
        out.outbound.packetsSent += s.packetsSent || 0;
      } else if (s.type === 'track' && s.remoteSource && kind === 'audio' && typeof s.audioLevel === 'number') {
        trackLevel = Math.max(trackLevel || 0, s.audioLevel);
      }
    });
    if (out.inbound.audioLevel === null && trackLevel !== null) out.inbound.audioLevel = trackLevel;
    return out;
  }
}
