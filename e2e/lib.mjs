// The browser-test harness: one headless Chromium (Debian's), pages at the two sizes that
// matter (a 360-px phone and a 1280-px desk), screenshots under target/screenshots/, and a
// tiny runner that prints "N passed, N failed" at the end.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export const BASE = process.env.HUIYIN_E2E_BASE ?? "http://127.0.0.1:18080";
export const SHOTS = process.env.HUIYIN_E2E_SHOTS ?? join(process.cwd(), "..", "target", "screenshots");
mkdirSync(SHOTS, { recursive: true });

export const PHONE = { width: 360, height: 780 };
export const DESK = { width: 1280, height: 900 };

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

/** A fresh context (own cookies) at a viewport; console errors and CSP violations fail. */
export async function context(browser, viewport, opts = {}) {
  const ctx = await browser.newContext({ viewport, locale: "zh-CN", ...opts });
  ctx.problems = [];
  ctx.on("page", (p) => watch(ctx, p));
  return ctx;
}

function watch(ctx, page) {
  page.on("console", (m) => { if (m.type() === "error") ctx.problems.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => ctx.problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => {
    const url = r.url();
    if (!url.startsWith(BASE)) ctx.problems.push(`external request: ${url}`);
  });
  page.on("request", (r) => {
    const url = r.url();
    if (!url.startsWith(BASE) && !url.startsWith("data:") && !url.startsWith("about:")) {
      ctx.problems.push(`request outside the product: ${url}`);
    }
  });
}

export async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** No element wider than the viewport (the page must not scroll sideways on a phone). */
export async function assertNoHorizontalScroll(page, what) {
  const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert(sw <= cw + 1, `${what}: the page scrolls sideways (${sw} > ${cw} px)`);
}

const results = [];
export async function test(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
  }
}

export function summary() {
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

/** A receipt code as shown: 12 Crockford base-32 characters in groups of four, the last one a
 *  mod-37 check character that may also be one of * ~ $ = U (see ReceiptCode in the domain). */
export const RECEIPT_CODE = /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{3}[0-9A-HJKMNP-TV-Z*~$=U]$/;
