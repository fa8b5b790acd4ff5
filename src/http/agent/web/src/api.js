// The provisioning API the phone talks to: sign in, fetch SIP settings, set availability,
// list recent calls. Every failure becomes an ApiError whose message a person can read.

const BASE = '/api/v1/voice/provisioning';

export class ApiError extends Error {
  constructor(message, { status = 0, code = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }

  /** The token is no longer accepted: the user has to sign in again. */
  get unauthorized() {
    return this.status === 401;
  }
}

async function request(method, path, { token = null, body = undefined } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'same-origin',
    });
  } catch (err) {
    throw new ApiError(`Could not reach the server (${err.message || 'network error'}).`);
  }
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const err = data && data.error;
    const detail = err && err.message ? err.message : `HTTP ${response.status}${response.statusText ? ' ' + response.statusText : ''}`;
    throw new ApiError(detail, { status: response.status, code: err && err.code ? err.code : null });
  }
  if (data === null) {
    throw new ApiError(`The server sent an answer this page cannot read (HTTP ${response.status}).`, {
      status: response.status,
    });
  }
  return data;
}

/** Exchanges an extension and its password for a provisioning token. */
export function createSession({ extension, password, accountId }) {
  const body = { extension, password };
  if (accountId) body.account_id = accountId;
  return request('POST', '/session', { body });
}

/** The SIP account to register with (its password is short-lived) and the agent's state. */
export function getProvisioning(token) {
  return request('GET', '', { token });
}

/** Sets the agent's availability; answers the agent object. */
export function setPresence(token, state, reason) {
  const body = { state };
  if (reason) body.reason = reason;
  return request('POST', '/presence', { token, body });
}

/** Recent calls, newest first. */
export function getCalls(token) {
  return request('GET', '/calls', { token });
}
