// The page of `ochre serve` in a real browser: Debian's Chromium, headless, driven by
// playwright-core, against the real binary on loopback. It renders one node per
// component, follows a real `ochre run` in another process live (running, then applied,
// without a reload), shows a clicked component's history, keeps a screenshot, and
// loads a 1,000-component pipeline in well under a second.
//
// Environment: OCHRE_BIN (the ochre binary), OCHRE_ARTIFACTS (where screenshots go),
// CHROMIUM (default /usr/bin/chromium), NODE_PATH (where playwright-core is installed).
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const OCHRE = path.resolve(process.env.OCHRE_BIN || 'ochre');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.OCHRE_ARTIFACTS || path.join(os.tmpdir(), 'ochre-artifacts');
// Under the sanitizers everything is slower: the load time is reported, not judged.
const LOAD_BUDGET_MS = process.env.OCHRE_SANITIZE === 'ON' ? Infinity : 1000;

if (!fs.existsSync(CHROMIUM)) {
  console.log(`skipped: no Chromium at ${CHROMIUM} (scripts/install-deps.sh --browser installs it)`);
  process.exit(77);
}
const { chromium } = require('playwright-core');
fs.mkdirSync(ARTIFACTS, { recursive: true });

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ochre-browser-'));
}

// Starts ochre with `args` in `dir`; resolves once it printed its URL.
function serve(dir, args) {
  const child = spawn(OCHRE, ['serve', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stderr.on('data', (d) => { err += d; });
  const url = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /Serving (http:\/\/\S+)\n/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`ochre serve exited ${code}: ${out}${err}`)));
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, url, exited, output: () => out + err };
}

function run(dir, args) {
  const child = spawn(OCHRE, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
  return { child, exited };
}

async function withBrowser(fn) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  try {
    return await fn(browser);
  } finally {
    await browser.close();
  }
}

// A diamond under a root, plus a chain; "slow" waits for the file "go" before it is made.
function gatedPipeline(dir) {
  return `local ochre = require "ochre"
local Step = ochre.component "Step" {
  fields = { inputs = {} },
  create = function(self)
    if self.identifier == "slow" then ochre.wait_file(${JSON.stringify(path.join(dir, 'go'))}, { timeout = 60 }) end
    print("made " .. self.identifier)
    return { made = self.identifier }
  end,
}
local leaf = Step "leaf" {}
local slow = Step "slow" { inputs = { leaf } }
local fast = Step "fast" { inputs = { leaf } }
local tail = Step "tail" { inputs = { Step "middle" { inputs = { fast } } } }
return Step "root" { inputs = { slow, tail } }
`;
}

const statusOf = (page, key) => page.locator(`g.node[data-key="${key}"]`).getAttribute('data-status');

test('the graph renders, follows a real run live, and shows a component\'s history', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'pipeline.lua'), gatedPipeline(dir));
  const server = serve(dir, ['pipeline.lua', '--port', '0']);
  let runner;
  try {
    const url = await server.url;
    await withBrowser(async (browser) => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(url);
      await page.waitForSelector('body[data-ready="1"]');
      assert.equal(await page.locator('g.node').count(), 6, 'one node per component');
      for (const key of ['Step/leaf', 'Step/slow', 'Step/root'])
        assert.equal(await statusOf(page, key), 'create');
      assert.equal(await page.locator('#apply').isVisible(), false, 'read-only: no Apply button');
      // Edges end in arrowheads; the search box highlights matches and dims the rest.
      assert.ok(await page.locator('#graph marker#arrow').count() === 1, 'an arrowhead marker');
      assert.ok(await page.locator('#graph path.edge[marker-end="url(#arrow)"]').count() > 0, 'edges with arrowheads');
      await page.locator('#search').fill('slow');
      assert.equal(await page.locator('g.node.match').count(), 1);
      assert.equal(await page.locator('g.node.match').getAttribute('data-key'), 'Step/slow');
      assert.equal(await page.locator('g.node.dim').count(), 5);
      assert.equal(await page.locator('#matches').innerText(), '1 match');
      await page.locator('#search').fill('');
      assert.equal(await page.locator('g.node.match, g.node.dim').count(), 0);
      const icon = await page.request.get(new URL('/favicon.ico', url).href);
      assert.equal(icon.status(), 200, '/favicon.ico is served');
      assert.match(icon.headers()['content-type'], /image\/svg\+xml/);
      await page.evaluate(() => { window.sameDocument = true; });  // gone if the page reloads

      runner = run(dir, ['run', 'pipeline.lua']);
      await page.waitForSelector('g.node[data-key="Step/slow"][data-status="running"]', { timeout: 20000 });
      assert.equal(await statusOf(page, 'Step/leaf'), 'applied');
      assert.equal(await statusOf(page, 'Step/root'), 'create');
      await page.screenshot({ path: path.join(ARTIFACTS, 'serve-running.png') });

      fs.writeFileSync(path.join(dir, 'go'), '');
      await page.waitForFunction(() => {
        const nodes = [...document.querySelectorAll('g.node')];
        return nodes.length === 6 && nodes.every((n) => n.dataset.status === 'applied');
      }, null, { timeout: 20000 });
      assert.equal(await page.evaluate(() => window.sameDocument), true, 'updated without a reload');
      const ran = await runner.exited;
      assert.equal(ran.code, 0, ran.out);

      await page.locator('g.node[data-key="Step/slow"]').click();
      await page.waitForSelector('#history tr.version');
      const panel = await page.locator('#panel').innerText();
      assert.match(panel, /Step\/slow/);
      assert.match(panel, /made slow/, 'the captured output of its last job');
      assert.equal(await page.locator('#history tr.version').count(), 1);
      const uuid = await page.locator('#history tr.version td').nth(3).innerText();
      assert.match(uuid, /^[0-9a-f]{16}$/);
      await page.screenshot({ path: path.join(ARTIFACTS, 'serve.png') });

      await page.locator('button[data-tab="runs"]').click();
      await page.waitForSelector('details.run');
      assert.match(await page.locator('details.run').first().innerText(), /run 1 apply/);
      // Times are local, with how long ago: a <time> whose title keeps the stored UTC text.
      const started = page.locator('details.run summary time').first();
      assert.match(await started.innerText(), /\((just now|\d+ s ago|\d+ min ago)\)/);
      assert.match(await started.getAttribute('title'), /UTC$/);
    });
  } finally {
    if (runner && runner.child.exitCode === null) runner.child.kill('SIGKILL');
    server.child.kill('SIGTERM');
    const end = await server.exited;
    assert.equal(end.code, 0, server.output());
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed run: failed and skipped are distinct states, in the graph and the runs', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'pipeline.lua'), `local ochre = require "ochre"
local S = ochre.component "S" { fields = { after = false }, create = function(self)
  if self.identifier == "bad" then error("no disk") end
end }
local bad = S "bad" {}
return { S "user" { after = bad }, S "fine" {} }
`);
  const ran = await run(dir, ['run', 'pipeline.lua']).exited;
  assert.equal(ran.code, 1, ran.out);
  const server = serve(dir, ['pipeline.lua', '--port', '0']);
  try {
    const url = await server.url;
    await withBrowser(async (browser) => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(url);
      await page.waitForSelector('body[data-ready="1"]');
      assert.equal(await statusOf(page, 'S/bad'), 'failed');
      assert.equal(await statusOf(page, 'S/user'), 'skipped');
      assert.equal(await statusOf(page, 'S/fine'), 'applied');
      assert.match(await page.locator('#counts').innerText(), /1 failed, 1 skipped/);
      await page.locator('button[data-tab="runs"]').click();
      await page.waitForSelector('details.run');
      assert.equal(await page.locator('details.run .badge.s-skipped').count(), 1);
    });
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('with --allow-apply the Apply button applies the pipeline in the server', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'pipeline.lua'), gatedPipeline(dir));
  fs.writeFileSync(path.join(dir, 'go'), '');  // nothing waits
  const server = serve(dir, ['pipeline.lua', '--port', '0', '--allow-apply']);
  try {
    const url = await server.url;
    await withBrowser(async (browser) => {
      const page = await browser.newPage();
      await page.goto(url);
      await page.waitForSelector('body[data-ready="1"]');
      assert.equal(await page.locator('g.node[data-status="create"]').count(), 6);
      await page.locator('#apply').click();
      await page.waitForFunction(() =>
        [...document.querySelectorAll('g.node')].every((n) => n.dataset.status === 'applied'), null, { timeout: 20000 });
      await page.waitForSelector('#message.info');
      assert.match(await page.locator('#message').innerText(), /6 done/);
    });
  } finally {
    server.child.kill('SIGTERM');
    assert.equal((await server.exited).code, 0, server.output());
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a 1,000-component pipeline loads in under a second', async () => {
  const dir = tempDir();
  // 50 groups of 19 leaves: 1,000 components, two layers, 950 edges.
  fs.writeFileSync(path.join(dir, 'pipeline.lua'), `local ochre = require "ochre"
local Leaf = ochre.component "Leaf" { fields = { n = 0 } }
local Group = ochre.component "Group" { fields = { parts = {} } }
local groups = {}
for g = 1, 50 do
  local parts = {}
  for i = 1, 19 do parts[#parts + 1] = Leaf ("leaf-" .. g .. "-" .. i) { n = i } end
  groups[#groups + 1] = Group ("group-" .. g) { parts = parts }
end
return groups
`);
  const server = serve(dir, ['pipeline.lua', '--port', '0']);
  try {
    const url = await server.url;
    await withBrowser(async (browser) => {
      const times = [];
      for (let i = 0; i < 3; i++) {
        const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
        await page.goto(url);
        await page.waitForSelector('body[data-ready="1"]');
        assert.equal(await page.locator('g.node').count(), 1000);
        // From the start of the navigation to the graph drawn with its statuses.
        times.push(Number(await page.evaluate(() => document.body.dataset.readyMs)));
        await page.close();
      }
      console.log(`1,000 components: page ready in ${times.join(' / ')} ms (best ${Math.min(...times)} ms)`);
      assert.ok(Math.min(...times) < LOAD_BUDGET_MS, `loads in ${Math.min(...times)} ms`);
    });
  } finally {
    server.child.kill('SIGTERM');
    assert.equal((await server.exited).code, 0, server.output());
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
