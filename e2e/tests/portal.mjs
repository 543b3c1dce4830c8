// The petitioner portal on a 360-px phone: submit in steps (fixing one validation error on the
// way), get the receipt, track it; every portal page at 360 and 1280 px (screenshots
// portal-*.png), no sideways scroll, nothing external, public pages under 100 KB transferred.
// Rating and review need a replied case: they are covered by the Rust tests
// (crates/web/tests/portal.rs) rather than by driving staff steps here.
import { launch, context, shot, test, summary, assert, assertNoHorizontalScroll, BASE, PHONE, DESK, RECEIPT_CODE } from "../lib.mjs";

const browser = await launch();

/** Sums the bytes of a page load (document, CSS, JS, images) as decoded — an upper bound
 *  of what is transferred, since responses are compressed. */
/** Sums the bytes transferred for a page load (document, CSS, JS, images). */
async function transferred(page, url) {
  let total = 0;
  const seen = [];
  const onResponse = async (res) => {
    try {
      const len = Number(res.headers()["content-length"] ?? 0) || (await res.body()).length;
      total += len;
      seen.push(res.url());
    } catch { /* redirects have no body */ }
  };
  page.on("response", onResponse);
  await page.goto(url, { waitUntil: "networkidle" });
  page.off("response", onResponse);
  return { total, seen };
}

let receipt = null;

await test("a petitioner submits in steps on a phone, fixes a mistake, gets a receipt", async () => {
  const ctx = await context(browser, PHONE, { userAgent: "Mozilla/5.0 (Linux; Android 14) Mobile" });
  const page = await ctx.newPage();
  await page.goto(BASE + "/");
  await page.getByRole("link", { name: "我要信访" }).click();
  await page.waitForLoadState();
  await assertNoHorizontalScroll(page, "submit who");
  await shot(page, "portal-submit-who-360");
  // A mistake: a wrong phone number and no name.
  await page.getByLabel("手机或电话").fill("12345");
  await page.getByRole("button", { name: "下一步" }).click();
  await page.waitForLoadState();
  assert(await page.locator(".form-errors").isVisible(), "no error summary");
  assert((await page.locator("#e-phone").textContent()).length > 4, "no message next to the phone");
  assert((await page.getByLabel("手机或电话").inputValue()) === "12345", "the entered phone was lost");
  await shot(page, "portal-submit-error-360");
  // Fixed.
  await page.getByLabel("姓名").fill("张三");
  await page.getByLabel("手机或电话").fill("13912345678");
  await page.getByRole("button", { name: "下一步" }).click();
  await page.waitForLoadState();
  await page.getByLabel("标题").fill("<b>小区路灯</b>不亮");
  await page.getByLabel("事情经过").fill("小区路灯已经坏了一个月，晚上出行不便，老人摔倒过。");
  await shot(page, "portal-submit-what-360");
  await page.getByRole("button", { name: "下一步" }).click();
  await page.waitForLoadState();
  // Where: the htmx search suggests places as one types.
  await page.getByLabel("搜索地区").fill("禅城");
  await page.locator("button.pick").first().waitFor({ timeout: 5000 });
  await assertNoHorizontalScroll(page, "submit where");
  await shot(page, "portal-submit-where-360");
  await page.locator("button.pick", { hasText: "佛山市 › 禅城区" }).first().click();
  await page.waitForLoadState();
  assert((await page.locator(".chosen").textContent()).includes("禅城区"), "region not chosen");
  await page.getByRole("button", { name: "下一步" }).click();
  await page.waitForLoadState();
  await page.getByLabel("您希望如何解决").fill("请尽快修复路灯");
  await shot(page, "portal-submit-ask-360");
  await page.getByRole("button", { name: "下一步" }).click();
  await page.waitForLoadState();
  await page.setInputFiles("#f-files", { name: "路灯.png", mimeType: "image/png", buffer: Buffer.from("89504e470d0a1a0a0000000d49484452", "hex") });
  await page.getByRole("button", { name: "上传" }).click();
  await page.waitForLoadState();
  assert((await page.locator("ul.files").textContent()).includes("路灯.png"), "upload not listed");
  await shot(page, "portal-submit-files-360");
  await page.getByRole("button", { name: "下一步" }).click();
  await page.waitForLoadState();
  assert((await page.locator("main").textContent()).includes("<b>小区路灯</b>不亮"), "title not shown as text");
  await assertNoHorizontalScroll(page, "submit review");
  await shot(page, "portal-submit-review-360");
  await page.getByRole("button", { name: "确认提交" }).click();
  await page.waitForLoadState();
  const code = (await page.locator("#receipt-code").textContent()).trim();
  const secret = (await page.locator("#receipt-secret").textContent()).trim();
  assert(RECEIPT_CODE.test(code), `receipt code ${code}`);
  assert((await page.locator("main").textContent()).includes("前登记"), "no register deadline");
  await assertNoHorizontalScroll(page, "receipt");
  await shot(page, "portal-receipt-360");
  receipt = { code, secret };
  // The re-displayed form answers 422 on purpose; Chromium logs any non-2xx document.
  const problems = ctx.problems.filter((p) => !p.includes("status of 422"));
  assert(problems.length === 0, problems.join("\n"));
  await ctx.close();
});

await test("the petitioner tracks the case with the code and secret", async () => {
  assert(receipt, "no receipt from the previous test");
  const ctx = await context(browser, PHONE);
  const page = await ctx.newPage();
  await page.goto(BASE + "/track");
  await shot(page, "portal-track-form-360");
  await page.getByLabel("受理凭证编号").fill(receipt.code);
  await page.getByLabel("查询密码").fill(receipt.secret);
  await page.getByRole("button", { name: "查询" }).click();
  await page.waitForLoadState();
  assert(!page.url().includes(receipt.secret), "the secret is in the URL");
  const text = await page.locator("main").textContent();
  assert(text.includes("<b>小区路灯</b>不亮") && text.includes("您的信访事项已收到"), "tracking page incomplete");
  await assertNoHorizontalScroll(page, "track");
  await shot(page, "portal-track-360");
  assert(ctx.problems.length === 0, ctx.problems.join("\n"));
  await ctx.close();
});

await test("every portal page at 360 and 1280 px, large type, under 100 KB", async () => {
  for (const [vp, tag] of [[PHONE, "360"], [DESK, "1280"]]) {
    const ctx = await context(browser, vp);
    const page = await ctx.newPage();
    for (const [path, name] of [["/", "home"], ["/submit", "submit"], ["/track", "track-form"]]) {
      const { total } = await transferred(page, BASE + path);
      assert(total < 100 * 1024, `${path} transferred ${total} bytes`);
      console.log(`     ${path} at ${tag}: ${total} bytes transferred`);
      await assertNoHorizontalScroll(page, `${path} ${tag}`);
      await shot(page, `portal-${name}-${tag}`);
    }
    if (tag === "1280" && receipt) {
      await page.goto(BASE + "/track");
      await page.getByLabel("受理凭证编号").fill(receipt.code);
      await page.getByLabel("查询密码").fill(receipt.secret);
      await page.getByRole("button", { name: "查询" }).click();
      await page.waitForLoadState();
      await shot(page, "portal-track-1280");
    }
    await page.getByRole("button", { name: "大字模式" }).click();
    await page.waitForLoadState();
    await page.goto(BASE + "/submit");
    await assertNoHorizontalScroll(page, `large submit ${tag}`);
    await shot(page, `portal-submit-large-${tag}`);
    assert(ctx.problems.length === 0, ctx.problems.join("\n"));
    await ctx.close();
  }
});

await test("published replies (网上公开): the demo's consenting cases, searchable, at 360 and 1280 px", async () => {
  for (const [vp, tag] of [[PHONE, "360"], [DESK, "1280"]]) {
    const ctx = await context(browser, vp);
    const page = await ctx.newPage();
    await page.goto(BASE + "/");
    await page.getByRole("link", { name: "查看公开答复" }).first().click();
    await page.waitForLoadState();
    assert(page.url().includes("/replies"), `home link went to ${page.url()}`);
    const items = page.locator("section.reply-item");
    assert((await items.count()) > 0, "the demo publishes no reply");
    // Masked: no full mobile number anywhere on the page.
    assert(!/1[3-9]\d{9}/.test(await page.locator("main").textContent()), "a phone number is shown");
    await assertNoHorizontalScroll(page, `replies ${tag}`);
    await shot(page, `portal-replies-${tag}`);
    // A search narrows the list to matching replies, each opening to its 处理意见书.
    const title = (await items.first().locator("h2").textContent()).trim();
    const word = title.slice(0, 2);
    await page.getByLabel("关键词").fill(word);
    await page.getByRole("button", { name: "查询", exact: true }).click();
    await page.waitForLoadState();
    assert(page.url().includes("q="), "search did not submit");
    assert((await items.count()) > 0, `no hit for ${word}`);
    await items.first().locator("summary").click();
    assert(await items.first().locator("dl.kv").isVisible(), "reply details do not open");
    await assertNoHorizontalScroll(page, `replies search ${tag}`);
    await shot(page, `portal-replies-search-${tag}`);
    assert(ctx.problems.length === 0, ctx.problems.join("\n"));
    await ctx.close();
  }
});

for (const [vp, tag] of [[PHONE, "360"], [DESK, "1280"]]) {
  await test(`信访数据公开: the demo's published statistics at ${tag} px`, async () => {
    const ctx = await context(browser, vp);
    const page = await ctx.newPage();
    await page.goto(BASE + "/");
    await page.getByRole("link", { name: "信访数据公开" }).click();
    await page.waitForURL(/\/stats$/);
    const figures = await page.textContent("#figures");
    assert(figures.includes("信访总量"), "no total on the statistics page");
    const total = Number((await page.locator("#figures tbody tr").first().locator("td b").first().textContent()).trim());
    assert(total > 0, `the demo's total this year is ${total}`);
    assert(!(await page.content()).includes("张"), "a name on the public statistics page");
    // The monthly trend is drawn by the vendored ECharts (charts.js), the table says the same.
    await page.waitForFunction(() => document.querySelectorAll("#trend .chart.drawn canvas").length > 0, null, { timeout: 15000 });
    const months = await page.locator("#trend tbody tr").count();
    assert(months >= 1, `the trend table has ${months} months`);
    await assertNoHorizontalScroll(page, `statistics ${tag}`);
    await shot(page, `portal-stats-${tag}`);
    await ctx.close();
  });
}

await browser.close();
process.exit(summary());
