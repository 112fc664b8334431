import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { buildOciLayout, type LayoutDescription } from '../fixtures/oci-layout.js';
import { ContainersSandbox } from '../e2e/containers-sandbox.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The web dashboard end to end: images pushed with skopeo into a real porthole, the page driven
 * in Debian's headless Chromium (playwright-core, no browser download): from the repository list
 * to a multi-arch index and one of its platforms, a chart drawn from the live series, the search,
 * the keyboard, a narrow screen and the dark scheme, axe-core's audit, and the auth case. One
 * browser for the whole file; every wait is bounded. Screenshots go to test-output/ui/.
 */

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = resolve('test-output/ui');
const WAIT_MS = 15_000;
const AXE_SOURCE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown }>;
}

describe('web dashboard in Chromium', { skip: skipUnlessTools('chromium', 'skopeo'), timeout: 150_000 }, () => {
  let work = '';
  let sandbox: ContainersSandbox;
  let porthole: PortholeProcess;
  let browser: Browser;
  let multi: LayoutDescription;
  let single: LayoutDescription;
  let axe = '';

  before(async () => {
    work = await tempDir('ui-e2e');
    await mkdir(SHOTS, { recursive: true });
    axe = await readFile(AXE_SOURCE, 'utf8');
    [multi, single] = await Promise.all([
      buildOciLayout({
        dir: join(work, 'multi'),
        tag: 'multi',
        seed: 'ui-multi',
        layers: 2,
        fileBytes: 24 * 1024,
        platforms: [
          { architecture: 'amd64', os: 'linux' },
          { architecture: 'arm64', os: 'linux' },
        ],
      }),
      buildOciLayout({ dir: join(work, 'single'), tag: 'v1', seed: 'ui-single', fileBytes: 4096 }),
    ]);
    sandbox = await ContainersSandbox.create();
    // Full metrics mode, so that the charts have request figures from the start.
    porthole = await startPorthole({ config: 'extensions: { metrics: { enable: true, reportingInterval: 1s } }' });
    const push = (layout: LayoutDescription, destination: string, ...flags: string[]) =>
      sandbox.skopeo(['copy', '--quiet', ...(layout.index ? ['--all'] : []), ...flags, '--dest-tls-verify=false', `oci:${layout.dir}:${layout.tag}`, `docker://${porthole.host}/${destination}`]);
    await push(multi, 'team/app:multi');
    await push(single, 'team/tool:v1');
    await push(single, 'other/thing:v1');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
      timeout: 30_000,
    });
  });

  after(async () => {
    await browser?.close();
    await porthole?.stop();
    await sandbox?.dispose();
    await cleanup(...[work, porthole?.root].filter((dir): dir is string => dir !== undefined && dir !== ''));
  });

  /** A page whose console errors and uncaught exceptions are collected, with bounded timeouts. */
  async function open(options: BrowserContextOptions = {}): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
    context.setDefaultTimeout(WAIT_MS);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
    return { context, page, errors };
  }

  /** axe-core's audit of the page as it is: no serious or critical violation. */
  async function audit(page: Page, what: string): Promise<void> {
    // Evaluated through the DevTools protocol: not an inline script, so the page's CSP stays in force.
    await page.evaluate(axe);
    const violations = await page.evaluate(async () => {
      const result = await (globalThis as unknown as { axe: { run(context: Document, options: unknown): Promise<{ violations: AxeViolation[] }> } }).axe.run(document, { resultTypes: ['violations'] });
      return result.violations.map(({ id, impact, help, nodes }) => ({ id, impact, help, nodes: nodes.map((node) => ({ target: node.target })) }));
    });
    const serious = violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
    assert.deepEqual(serious, [], `${what}: axe found ${JSON.stringify(serious, null, 1)}`);
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  test('overview: storage figures and a chart drawn from the live series', async () => {
    // Samples come every 5 s from the start; wait for two (a line), one of which saw the pushes.
    await waitFor(
      'two samples of the series, with requests',
      async () => {
        const series = (await (await fetch(`${porthole.url}/api/v1/series`)).json()) as { series: { requestsPerSecond: Array<number | null> } };
        const values = series.series.requestsPerSecond.filter((value) => value !== null);
        return values.length >= 2 && values.some((value) => value > 0);
      },
      25_000,
    );
    const { context, page, errors } = await open();
    try {
      const response = await page.goto(`${porthole.url}/ui/`);
      assert.equal(response?.status(), 200);
      await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      await page.getByText('Repositories', { exact: true }).first().waitFor();
      // The chart: uPlot's canvas, with the series' line drawn in its colour, and the figure it plots.
      const plot = page.locator('[data-chart="requests"] canvas');
      await plot.waitFor();
      await page.waitForFunction(() => /requests: \d/.test(document.querySelector('#chart-requests')?.parentElement?.querySelector('.chart-summary')?.textContent ?? ''), undefined, { timeout: WAIT_MS });
      const drawn = await page.evaluate(() => {
        const canvas = document.querySelector('[data-chart="requests"] canvas') as HTMLCanvasElement;
        const pixels = (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, canvas.width, canvas.height).data;
        let line = 0;
        // #2f6fd6, the first series' stroke (anti-aliased edges vary; the core of the line does not).
        for (let i = 0; i < pixels.length; i += 4) if (Math.abs((pixels[i] as number) - 47) < 12 && Math.abs((pixels[i + 1] as number) - 111) < 12 && Math.abs((pixels[i + 2] as number) - 214) < 12) line += 1;
        return { width: canvas.width, height: canvas.height, line };
      });
      assert.ok(drawn.width > 200 && drawn.height > 100, JSON.stringify(drawn));
      assert.ok(drawn.line > 20, `the request line is drawn: ${JSON.stringify(drawn)}`);
      const summary = await page.locator('.summary').innerText();
      assert.match(summary, /Repositories\s+3/);
      await shot(page, 'overview');
      await audit(page, 'overview');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('from the repository list to a multi-arch index, one platform and its layers, with pull commands', async () => {
    const { context, page, errors } = await open();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: porthole.url });
    try {
      await page.goto(`${porthole.url}/ui/`);
      await page.getByRole('link', { name: 'Repositories', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'Repositories' }).waitFor();
      await page.getByRole('table', { name: 'Repositories' }).waitFor();
      const names = await page.locator('tbody tr td:first-child').allInnerTexts();
      assert.deepEqual(names, ['other/thing', 'team/app', 'team/tool']);
      await shot(page, 'repositories');
      await audit(page, 'repositories');

      await page.getByRole('link', { name: 'team/app', exact: true }).click();
      await page.getByRole('link', { name: 'multi', exact: true }).waitFor();
      assert.match(await page.locator('tbody tr').first().innerText(), /multi-platform index/);
      await page.getByRole('link', { name: 'multi', exact: true }).click();

      await page.getByRole('heading', { name: 'Platforms (2)' }).waitFor();
      assert.equal(await page.locator('.facts code.digest').innerText(), multi.index?.digest);
      const platforms = await page.locator('tbody tr td:first-child').allInnerTexts();
      assert.deepEqual(platforms.slice(0, 2), ['linux/amd64', 'linux/arm64']);
      const commands = await page.locator('input.command').evaluateAll((inputs) => inputs.map((input) => (input as HTMLInputElement).value));
      assert.deepEqual(commands, [`podman pull ${porthole.host}/team/app:multi`, `docker pull ${porthole.host}/team/app@${multi.index?.digest}`]);
      const copy = page.getByRole('button', { name: 'Copy: docker pull by digest' });
      await copy.click();
      await page.getByText('Copied').waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), commands[1]);
      await shot(page, 'index');
      await audit(page, 'index');

      await page.getByRole('link', { name: 'linux/arm64' }).click();
      const arm = multi.images.find((image) => image.platform.architecture === 'arm64');
      assert.ok(arm);
      await page.getByRole('heading', { name: /^Layers \(2, / }).waitFor();
      const layerRows = page.locator('table:has(caption:text("Layers, base first")) tbody tr');
      assert.equal(await layerRows.count(), arm.layers.length);
      for (const [index, layer] of arm.layers.entries()) {
        const row = layerRows.nth(index);
        assert.equal(await row.locator('code').getAttribute('title'), layer.digest);
        // Sizes as the table shows them: KiB with two decimals below 10, else one.
        const kib = layer.size / 1024;
        assert.equal(await row.locator('td').nth(2).innerText(), `${kib.toFixed(kib < 10 ? 2 : 1)} KiB`);
      }
      // The config, read from its blob.
      await page.locator('dt', { hasText: 'Platform' }).first().waitFor();
      assert.match(await page.locator('section[aria-labelledby="config-heading"]').innerText(), /linux\/arm64/);
      await page.getByText('No signature, SBOM or other artifact refers to this manifest.').waitFor();
      await shot(page, 'image');
      await audit(page, 'image');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('search, by the keyboard alone, with a visible focus', async () => {
    const { context, page, errors } = await open();
    try {
      await page.goto(`${porthole.url}/ui/`);
      await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      // Tab order: the skip link first, then the sections.
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const element = document.activeElement as HTMLElement;
        const style = getComputedStyle(element);
        return { text: element.textContent, outline: style.outlineStyle, width: style.outlineWidth };
      });
      assert.equal(focused.text, 'Repositories');
      assert.notEqual(focused.outline, 'none', 'the focus is visible');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Repositories' }).waitFor();
      assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'H1', 'the new page takes the focus');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'repository-search');
      await page.keyboard.type('TOOL');
      await page.keyboard.press('Enter');
      await page.getByRole('table', { name: 'Repositories whose name contains “TOOL”' }).waitFor();
      assert.deepEqual(await page.locator('tbody tr td:first-child').allInnerTexts(), ['team/tool']);
      assert.match(page.url(), /#\/repositories\?q=TOOL$/);
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'team/tool');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'team/tool' }).waitFor();
      await page.locator('input.command').waitFor();
      await shot(page, 'search-tool');
      // Nothing matches: said so.
      await page.goto(`${porthole.url}/ui/#/repositories?q=nothing-like-it`);
      await page.getByText('No repository name contains “nothing-like-it”.').waitFor();
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('a narrow screen in the dark scheme: one column, nothing wider than the screen', async () => {
    const { context, page, errors } = await open({ viewport: { width: 375, height: 800 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
    try {
      await page.goto(`${porthole.url}/ui/`);
      await page.locator('[data-chart="latency"] canvas').waitFor();
      const layout = await page.evaluate(() => ({
        page: document.documentElement.scrollWidth,
        screen: window.innerWidth,
        background: getComputedStyle(document.body).backgroundColor,
        chart: (document.querySelector('[data-chart="latency"] canvas') as HTMLCanvasElement).getBoundingClientRect().width,
      }));
      assert.ok(layout.page <= layout.screen, `no sideways scrolling: ${JSON.stringify(layout)}`);
      assert.ok(layout.chart <= layout.screen, `charts fit: ${JSON.stringify(layout)}`);
      assert.equal(layout.background, 'rgb(15, 20, 25)', 'the dark background');
      await shot(page, 'overview-narrow-dark');
      await audit(page, 'overview, narrow and dark');
      await page.goto(`${porthole.url}/ui/#/manifest/team%2Fapp/multi`);
      await page.getByRole('heading', { name: 'Platforms (2)' }).waitFor();
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
      await shot(page, 'index-narrow-dark');
      await audit(page, 'index, narrow and dark');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  describe('with auth', () => {
    let guarded: PortholeProcess;

    before(async () => {
      const htpasswd = join(work, 'htpasswd');
      await writeFile(htpasswd, `admin:${bcrypt.hashSync('dashboard-pw', 4)}\n`);
      guarded = await startPorthole({ config: `auth: { htpasswd: { path: ${htpasswd} }, realm: porthole-ui }` });
      await sandbox.skopeo(['copy', '--quiet', '--all', '--dest-creds', 'admin:dashboard-pw', '--dest-tls-verify=false', `oci:${multi.dir}:${multi.tag}`, `docker://${guarded.host}/secure/app:multi`]);
    });
    after(async () => {
      await guarded?.stop();
      if (guarded !== undefined) await cleanup(guarded.root);
    });

    test('anonymous: refused with the Basic challenge; with credentials the dashboard works', async () => {
      const anonymous = await open();
      try {
        // Challenged, a browser without a login to give (headless: no prompt) gives up on the page.
        await assert.rejects(anonymous.page.goto(`${guarded.url}/ui/`), /ERR_INVALID_AUTH_CREDENTIALS/);
        const refused = await anonymous.context.request.get(`${guarded.url}/ui/`);
        assert.equal(refused.status(), 401);
        assert.equal(refused.headers()['www-authenticate'], 'Basic realm="porthole-ui", charset="UTF-8"');
      } finally {
        await anonymous.context.close();
      }
      const { context, page, errors } = await open({ httpCredentials: { username: 'admin', password: 'dashboard-pw' } });
      try {
        const admitted = await page.goto(`${guarded.url}/ui/#/repositories`);
        assert.equal(admitted?.status(), 200);
        await page.getByRole('link', { name: 'secure/app', exact: true }).click();
        await page.getByRole('link', { name: 'multi', exact: true }).click();
        await page.getByRole('heading', { name: 'Platforms (2)' }).waitFor();
        await page.getByRole('link', { name: 'linux/amd64' }).click();
        await page.getByRole('heading', { name: /^Layers \(2, / }).waitFor();
        await shot(page, 'auth-image');
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });
  });
});
