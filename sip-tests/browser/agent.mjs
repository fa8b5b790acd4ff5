#!/usr/bin/env node
// Drives the agent phone page (/agent) in headless Chromium, one JSON command per line on
// stdin, one JSON answer per line on stdout. Everything else (the browser's console, page
// errors, failed requests) goes to stderr. Every command acts through the page as a person
// would: labels, buttons, the keypad. See README.md for the commands.
//
//   node agent.mjs [--fake-audio file.wav]

import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';

const argv = process.argv.slice(2);
let fakeAudio = null;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--fake-audio') fakeAudio = argv[++i];
  else if (argv[i].startsWith('--fake-audio=')) fakeAudio = argv[i].slice('--fake-audio='.length);
  else {
    process.stderr.write(`agent.mjs: unknown argument ${argv[i]}\n`);
    process.exit(2);
  }
}

const args = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--ignore-certificate-errors',
  '--autoplay-policy=no-user-gesture-required',
];
if (fakeAudio) args.push(`--use-file-for-fake-audio-capture=${fakeAudio}`);

const log = (line) => process.stderr.write(`${line}\n`);
const reply = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// launch() gives the browser a fresh temporary profile (user-data-dir) and removes it on close.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args,
});

/** name -> { context, page } ; each name is its own browser context (its own agent). */
const pages = new Map();

async function pageFor(name) {
  const key = name || 'a';
  let entry = pages.get(key);
  if (entry && !entry.page.isClosed()) return entry.page;
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  await context.grantPermissions(['microphone']);
  const page = await context.newPage();
  page.on('console', (m) => log(`[${key}] console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log(`[${key}] page error: ${e.stack || e.message}`));
  page.on('requestfailed', (r) => log(`[${key}] request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400) log(`[${key}] HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
  });
  page.on('websocket', (ws) => {
    log(`[${key}] websocket opened: ${ws.url()}`);
    ws.on('close', () => log(`[${key}] websocket closed: ${ws.url()}`));
  });
  entry = { context, page };
  pages.set(key, entry);
  return page;
}

// ---- page helpers ------------------------------------------------------------------------

const hook = (page, fn, arg) => page.evaluate(fn, arg);
const agentState = (page) => hook(page, () => window.switchyardAgent.state());

async function visibleText(page, selector) {
  const loc = page.locator(selector);
  if ((await loc.count()) === 0 || !(await loc.first().isVisible())) return null;
  return (await loc.first().innerText()).trim();
}

/** What the page says about the phone: the registration status, or the sign-in form's error. */
async function statusText(page) {
  const title = await visibleText(page, '#status-title');
  const detail = await visibleText(page, '#status-detail');
  if (title) return [title, detail].filter(Boolean).join(': ');
  if (await page.locator('#login-view').isVisible()) {
    const err = await visibleText(page, '#login-error');
    return `the sign-in form is shown${err ? ': ' + err : ''}`;
  }
  return 'no status shown';
}

/**
 * Polls until `check()` returns a truthy value (answered), or throws after timeoutMs with
 * the message from `why()`. `fail()` may return an error text to stop early.
 */
async function until(check, { timeoutMs, why, fail = null, every = 100 }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (fail) {
      const f = await fail();
      if (f) throw new Error(f);
    }
    if (Date.now() >= deadline) throw new Error(await why());
    await sleep(every);
  }
}

/** The first visible error the page shows a person, or null. */
async function pageError(page) {
  for (const sel of ['#mic-error', '#dial-error', '#login-error', '#agent-error']) {
    const t = await visibleText(page, sel);
    if (t) return t;
  }
  return null;
}

async function waitCall(page, pred, what, timeoutMs) {
  let last = null;
  return until(
    async () => {
      last = await agentState(page);
      return pred(last) ? last : null;
    },
    {
      timeoutMs,
      fail: () => pageError(page),
      why: async () => `timed out after ${timeoutMs} ms waiting for ${what} (state ${JSON.stringify(last)}; ${await statusText(page)})`,
    }
  );
}

const button = (page, name) => page.getByRole('button', { name, exact: true });

async function click(page, name, timeoutMs = 5000) {
  const b = button(page, name);
  await b.waitFor({ state: 'visible', timeout: timeoutMs });
  await b.click({ timeout: timeoutMs });
}

// ---- commands ------------------------------------------------------------------------------

const commands = {
  async open(page, c) {
    if (!c.url) throw new Error('open needs "url"');
    const res = await page.goto(c.url, { waitUntil: 'load', timeout: c.timeout_ms || 15000 });
    if (res && !res.ok()) throw new Error(`HTTP ${res.status()} for ${c.url}`);
    await page.waitForFunction(() => !!window.switchyardAgent, null, { timeout: 5000 });
    return {};
  },

  /** Closes this agent's browser context as a crashed tab would: no un-REGISTER, no BYE. */
  async close_page(page, c) {
    const key = c.page || 'a';
    const entry = pages.get(key);
    if (entry) {
      pages.delete(key);
      await entry.context.close();
    }
    return {};
  },

  async login(page, c) {
    const timeoutMs = c.timeout_ms || 15000;
    if (!c.extension || c.password === undefined) throw new Error('login needs "extension" and "password"');
    await page.getByLabel('Extension', { exact: true }).fill(String(c.extension));
    await page.getByLabel('Password', { exact: true }).fill(String(c.password));
    if (c.account_id) {
      const account = page.getByLabel(/^Account/);
      if (!(await account.isVisible())) await page.getByText('More options').click();
      await account.fill(String(c.account_id));
    }
    await click(page, 'Sign in');
    await until(async () => (await agentState(page)).registered, {
      timeoutMs,
      fail: () => visibleText(page, '#login-error'),
      why: async () => `not registered after ${timeoutMs} ms: ${await statusText(page)}`,
    });
    return {};
  },

  async wait_incoming(page, c) {
    const timeoutMs = c.timeout_ms || 20000;
    await waitCall(page, (s) => s.callState === 'ringing', 'an incoming call', timeoutMs);
    await button(page, 'Answer').waitFor({ state: 'visible', timeout: 2000 });
    return { incoming: await hook(page, () => window.switchyardAgent.lastIncoming()) };
  },

  async answer(page, c) {
    await click(page, 'Answer');
    await waitCall(page, (s) => s.inCall, 'the call to connect', c.timeout_ms || 10000);
    return {};
  },

  async reject(page, c) {
    await click(page, 'Reject');
    await waitCall(page, (s) => s.callState === 'idle', 'the call to end', c.timeout_ms || 10000);
    return {};
  },

  async hangup(page, c) {
    await click(page, 'Hang up');
    await waitCall(page, (s) => s.callState === 'idle', 'the call to end', c.timeout_ms || 10000);
    return {};
  },

  async hold(page, c) {
    await click(page, 'Hold');
    await waitCall(page, (s) => s.onHold, 'hold', c.timeout_ms || 5000);
    return {};
  },

  async unhold(page, c) {
    await click(page, 'Resume');
    await waitCall(page, (s) => !s.onHold, 'the call to resume', c.timeout_ms || 5000);
    return {};
  },

  async mute(page, c) {
    await click(page, 'Mute');
    await waitCall(page, (s) => s.muted, 'mute', c.timeout_ms || 5000);
    return {};
  },

  async unmute(page, c) {
    await click(page, 'Unmute');
    await waitCall(page, (s) => !s.muted, 'unmute', c.timeout_ms || 5000);
    return {};
  },

  async dtmf(page, c) {
    const digits = String(c.digits || '');
    if (!/^[0-9*#]+$/.test(digits)) throw new Error('dtmf needs "digits" of 0-9, * and #');
    const keypad = page.getByRole('group', { name: 'Keypad' });
    for (const d of digits) {
      const name = d === '*' ? 'Star' : d === '#' ? 'Hash' : d;
      await keypad.getByRole('button', { name, exact: true }).click({ timeout: 5000 });
      // Let the tone start before the next key, as a person pressing keys would.
      await sleep(c.gap_ms ?? 250);
    }
    return {};
  },

  async transfer(page, c) {
    if (!c.target) throw new Error('transfer needs "target"');
    await page.getByLabel('Transfer to', { exact: true }).fill(String(c.target));
    await click(page, 'Transfer');
    const timeoutMs = c.timeout_ms || 10000;
    await until(async () => (await agentState(page)).callState === 'idle', {
      timeoutMs,
      fail: async () => {
        const note = await visibleText(page, '#active-note');
        return note && /failed/i.test(note) ? note : null;
      },
      why: async () => `the transfer did not complete in ${timeoutMs} ms: ${(await visibleText(page, '#active-note')) || 'no answer from the switch'}`,
    });
    return {};
  },

  async dial(page, c) {
    if (!c.target) throw new Error('dial needs "target"');
    await page.getByLabel('Number or extension', { exact: true }).fill(String(c.target));
    const before = (await agentState(page)).calls;
    await click(page, 'Call');
    // A call refused at once is over before we look: count calls, not only the current one.
    const s = await waitCall(page, (st) => st.calls > before || st.callState !== 'idle', 'the call to start', c.timeout_ms || 10000);
    return { state: s };
  },

  async set_state(page, c) {
    const timeoutMs = c.timeout_ms || 10000;
    if (c.state === 'available') {
      await click(page, 'Available');
    } else if (c.state === 'paused') {
      const select = page.getByLabel('Pause reason', { exact: true });
      const reason = c.reason ? String(c.reason) : null;
      if (reason) {
        const values = await select.locator('option').evaluateAll((os) => os.map((o) => o.value));
        if (values.includes(reason) && reason !== 'other') {
          await select.selectOption(reason);
        } else {
          await select.selectOption('other');
          await page.getByLabel('Other reason', { exact: true }).fill(reason);
        }
      }
      await click(page, 'Pause');
    } else {
      throw new Error('set_state needs "state": "available" or "paused"');
    }
    await until(async () => (await agentState(page)).agentState === c.state, {
      timeoutMs,
      fail: () => visibleText(page, '#agent-error'),
      why: async () => `the page still shows "${await visibleText(page, '#agent-state')}" after ${timeoutMs} ms`,
    });
    return { agent_state: await visibleText(page, '#agent-state') };
  },

  async stats(page) {
    const stats = await hook(page, () => window.switchyardAgent.stats());
    if (!stats) throw new Error('no active call');
    return { stats };
  },

  async state(page) {
    return { state: await agentState(page) };
  },

  async wait_state(page, c) {
    if (!c.key) throw new Error('wait_state needs "key"');
    const timeoutMs = c.timeout_ms || 10000;
    const want = JSON.stringify(c.value);
    let last = null;
    await until(
      async () => {
        last = await agentState(page);
        return JSON.stringify(last[c.key]) === want;
      },
      {
        timeoutMs,
        why: async () => `state.${c.key} is ${JSON.stringify(last && last[c.key])}, not ${want}, after ${timeoutMs} ms (${await statusText(page)})`,
      }
    );
    return { state: last };
  },

  async text(page, c) {
    if (!c.selector) throw new Error('text needs "selector"');
    const loc = page.locator(c.selector).first();
    await loc.waitFor({ state: 'attached', timeout: c.timeout_ms || 5000 });
    return { text: await loc.innerText() };
  },

  async screenshot(page, c) {
    if (!c.path) throw new Error('screenshot needs "path"');
    await page.screenshot({ path: c.path, fullPage: true });
    return { path: c.path };
  },
};

async function shutdown(code) {
  try {
    await browser.close();
  } catch {
    /* already gone */
  }
  process.exit(code);
}

async function run(line) {
  let c;
  try {
    c = JSON.parse(line);
  } catch (e) {
    return { ok: false, error: `not JSON: ${e.message}` };
  }
  const echo = c && c.id !== undefined ? { id: c.id } : {};
  if (!c || typeof c.cmd !== 'string') return { ok: false, error: 'missing "cmd"', ...echo };
  if (c.cmd === 'close') return null;
  const fn = commands[c.cmd];
  if (!fn) return { ok: false, error: `unknown command "${c.cmd}"`, ...echo };
  try {
    const page = await pageFor(c.page);
    const out = await fn(page, c);
    return { ok: true, ...echo, ...out };
  } catch (e) {
    const message = String((e && e.message) || e).split('\n')[0];
    return { ok: false, error: message, ...echo };
  }
}

process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const raw of rl) {
  const line = raw.trim();
  if (!line) continue;
  const answer = await run(line);
  if (answer === null) {
    reply({ ok: true });
    await shutdown(0);
  }
  reply(answer);
}
await shutdown(0);
