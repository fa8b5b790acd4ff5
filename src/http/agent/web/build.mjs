// Builds the agent phone into ../dist: index.html, agent.js, agent.css — exactly those
// three files, which the server embeds. Asset links get a content hash so browsers never
// run a stale script after an upgrade.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist');

const common = {
  bundle: true,
  minify: true,
  write: false,
  legalComments: 'none',
  logLevel: 'warning',
};

const [js, css] = await Promise.all([
  build({
    ...common,
    entryPoints: [join(here, 'src', 'app.js')],
    format: 'iife',
    platform: 'browser',
    target: ['chrome100', 'firefox100', 'safari15'],
    define: { 'process.env.NODE_ENV': '"production"' },
  }),
  build({
    ...common,
    entryPoints: [join(here, 'agent.css')],
    loader: { '.css': 'css' },
    target: ['chrome100', 'firefox100', 'safari15'],
  }),
]);

const jsText = js.outputFiles[0].contents;
const cssText = css.outputFiles[0].contents;
const short = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 10);

let html = await readFile(join(here, 'index.html'), 'utf8');
for (const [name, bytes] of [['agent.js', jsText], ['agent.css', cssText]]) {
  const ref = `/agent/${name}`;
  if (!html.includes(`"${ref}"`)) throw new Error(`index.html does not reference ${ref}`);
  html = html.replace(`"${ref}"`, `"${ref}?v=${short(bytes)}"`);
}

await mkdir(dist, { recursive: true });
for (const entry of await readdir(dist)) {
  if (!['index.html', 'agent.js', 'agent.css'].includes(entry)) await rm(join(dist, entry), { recursive: true, force: true });
}
await Promise.all([
  writeFile(join(dist, 'index.html'), html),
  writeFile(join(dist, 'agent.js'), jsText),
  writeFile(join(dist, 'agent.css'), cssText),
]);
console.log(`built dist/: agent.js ${jsText.length} bytes, agent.css ${cssText.length} bytes`);
