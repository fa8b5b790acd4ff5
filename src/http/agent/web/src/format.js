// Plain-text formatting for what the page shows: phone numbers, the path a call took,
// durations and times. No DOM here.

/**
 * A phone number as a person reads it. North American numbers in E.164 are grouped
 * "+1 555 0100 100"; other E.164 numbers get the country code split off when it is
 * obvious; extensions and anything else are shown as they came.
 */
export function formatNumber(raw) {
  if (raw === null || raw === undefined) return '';
  const s = String(raw).trim();
  const nanp = /^\+1(\d{3})(\d{4})(\d{3})$/.exec(s);
  if (nanp) return `+1 ${nanp[1]} ${nanp[2]} ${nanp[3]}`;
  const intl = /^\+(\d{8,15})$/.exec(s);
  if (intl) {
    const digits = intl[1];
    // Two-digit country codes are the common case outside zone 1; group the rest by three.
    const cc = digits.slice(0, 2);
    const rest = digits.slice(2).replace(/(\d{3})(?=\d{3,})/g, '$1 ');
    return `+${cc} ${rest}`;
  }
  return s;
}

/** Menu choices "1,3" as "1 → 3". */
function formatIvr(ivr) {
  return String(ivr)
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean)
    .join(' → ');
}

/**
 * The way an incoming call came in, from the X-Switchyard-* headers:
 * "Called +1 555 0100 100 → menu 1 → queue sales, waited 12 s".
 * Empty when the call carried none of them.
 */
export function formatPath({ did, ivr, queue, wait, ringGroup }) {
  const steps = [];
  if (did) steps.push(`Called ${formatNumber(did)}`);
  if (ivr) steps.push(`menu ${formatIvr(ivr)}`);
  if (ringGroup) steps.push(`ring group ${ringGroup}`);
  if (queue) {
    steps.push(wait !== null && wait !== undefined ? `queue ${queue}, waited ${formatWait(wait)}` : `queue ${queue}`);
  } else if (wait !== null && wait !== undefined) {
    steps.push(`waited ${formatWait(wait)}`);
  }
  return steps.join(' → ');
}

function formatWait(wait) {
  const n = Number(wait);
  if (!Number.isFinite(n)) return String(wait);
  if (n < 120) return `${Math.round(n)} s`;
  const m = Math.floor(n / 60);
  const s = Math.round(n % 60);
  return `${m} min ${s} s`;
}

/** Seconds as "0:07", "12:30" or "1:02:03". */
export function formatDuration(totalSeconds) {
  const t = Math.max(0, Math.floor(Number(totalSeconds) || 0));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  const ss = String(s).padStart(2, '0');
  if (h > 0) return `${h}:${String(m).padStart(2, '0')}:${ss}`;
  return `${m}:${ss}`;
}

/** An RFC 3339 time as "14:05" today, "Yesterday 14:05", or "3 Dec 14:05". */
export function formatWhen(rfc3339, now = new Date()) {
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return '';
  const time = d.toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' });
  const dayStart = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  if (d.getTime() >= dayStart) return time;
  if (d.getTime() >= dayStart - 86400000) return `Yesterday ${time}`;
  const date = d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
  return `${date} ${time}`;
}

/** Agent states as words. */
export function formatAgentState(state) {
  switch (state) {
    case 'available':
      return 'Available';
    case 'paused':
      return 'Paused';
    case 'wrap_up':
      return 'Wrapping up';
    case 'logged_out':
      return 'Logged out of queues';
    default:
      return 'Unknown';
  }
}

/** "lunch" as "Lunch". */
export function capitalise(s) {
  const t = String(s || '');
  return t ? t[0].toUpperCase() + t.slice(1) : t;
}
