// The page shell every page shares: language switch, large-type mode that sticks, no
// sideways scrolling on a phone, nothing loaded from outside, an HTML 404.
import { launch, context, shot, test, summary, assert, assertNoHorizontalScroll, BASE, PHONE, DESK } from "../lib.mjs";

const browser = await launch();

await test("home at 360 px and 1280 px, no sideways scroll, nothing external", async () => {
  for (const [vp, tag] of [[PHONE, "360"], [DESK, "1280"]]) {
    const ctx = await context(browser, vp);
    const page = await ctx.newPage();
    const res = await page.goto(BASE + "/");
    assert(res.status() === 200, `home answered ${res.status()}`);
    assert((await page.getAttribute("html", "lang")) === "zh-CN", "home is not zh-CN by default");
    await assertNoHorizontalScroll(page, `home ${tag}`);
    await shot(page, `home-${tag}`);
    assert(ctx.problems.length === 0, ctx.problems.join("\n"));
    await ctx.close();
  }
});

await test("large type sticks across pages and English can be chosen", async () => {
  const ctx = await context(browser, PHONE);
  const page = await ctx.newPage();
  await page.goto(BASE + "/");
  const before = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
  await page.getByRole("button", { name: "大字模式" }).click();
  await page.waitForLoadState();
  assert(await page.evaluate(() => document.documentElement.classList.contains("large")), "large mode not on");
  const after = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
  assert(after >= before * 1.2, `large type is not larger (${before} → ${after})`);
  await page.goto(BASE + "/");
  assert(await page.evaluate(() => document.documentElement.classList.contains("large")), "large mode did not stick");
  await shot(page, "home-large-360");
  await page.getByRole("button", { name: "English" }).click();
  await page.waitForLoadState();
  assert((await page.getAttribute("html", "lang")) === "en", "English not chosen");
  await page.getByRole("button", { name: "中文" }).click();
  await page.waitForLoadState();
  assert((await page.getAttribute("html", "lang")) === "zh-CN", "back to Chinese failed");
  await ctx.close();
});

await test("unknown pages get an HTML 404", async () => {
  const ctx = await context(browser, PHONE);
  const page = await ctx.newPage();
  const res = await page.goto(BASE + "/no/such/page");
  assert(res.status() === 404, `answered ${res.status()}`);
  assert((await page.textContent("h1")).includes("页面不存在"), "404 page has no heading");
  await ctx.close();
});

await browser.close();
process.exit(summary());
