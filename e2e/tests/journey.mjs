// The whole journey of issue 4, one petition from end to end: a petitioner submits on a
// 360-px phone; a clerk (登记员) at a 1280-px desk registers and assigns it (交办) to
// 佛山市住建局; the unit's head accepts and replies with a 信访处理意见书; the petitioner,
// back on the phone, tracks it, reads the reply, rates both organs (双满意) and asks for a
// review (复查). Screenshots journey-*.png.
import { launch, context, shot, test, summary, assert, assertNoHorizontalScroll, BASE, PHONE, DESK, RECEIPT_CODE } from "../lib.mjs";
import { signIn, register, assignToHousingBureau, acceptAndOpenReply } from "../workbench.mjs";

const browser = await launch();
const title = `路灯不亮 ${Date.now() % 1000000}`;
let receipt = null;
let caseUrl = null;

async function trackOnPhone(ctx) {
  const page = await ctx.newPage();
  await page.goto(BASE + "/track");
  await page.getByLabel("受理凭证编号").fill(receipt.code);
  await page.getByLabel("查询密码").fill(receipt.secret);
  await page.getByRole("button", { name: "查询" }).click();
  await page.waitForLoadState();
  return page;
}

await test("1. a petitioner submits on a phone and gets a receipt", async () => {
  const ctx = await context(browser, PHONE);
  const page = await ctx.newPage();
  await page.goto(BASE + "/");
  await page.getByRole("link", { name: "我要信访" }).click();
  await page.waitForLoadState();
  await page.getByLabel("姓名").fill("赵桂兰");
  await page.getByLabel("手机或电话").fill("13812345678");
  await page.getByRole("button", { name: "下一步" }).click();
  await page.waitForLoadState();
  await page.getByLabel("标题").fill(title);
  await page.getByLabel("事情经过").fill("我家门前的路灯坏了两个多月，晚上一片漆黑，邻居老人摔倒过，多次打电话没人来修。");
  await page.getByRole("button", { name: "下一步" }).click();
  await page.waitForLoadState();
  await page.getByLabel("搜索地区").fill("佛山");
  const city = page.locator("button.pick", { hasText: /佛山市$/ }).first();
  await city.waitFor({ timeout: 5000 });
  await city.click();
  await page.waitForLoadState();
  assert((await page.locator(".chosen").textContent()).includes("佛山市"), "佛山市 not chosen");
  await page.getByRole("button", { name: "下一步" }).click();
  await page.waitForLoadState();
  await page.getByLabel("您希望如何解决").fill("请尽快修好路灯");
  await page.getByRole("button", { name: "下一步" }).click();
  await page.waitForLoadState();
  await page.getByRole("button", { name: "下一步" }).click();
  await page.waitForLoadState();
  await page.getByRole("button", { name: "确认提交" }).click();
  await page.waitForLoadState();
  receipt = {
    code: (await page.locator("#receipt-code").textContent()).trim(),
    secret: (await page.locator("#receipt-secret").textContent()).trim(),
  };
  assert(RECEIPT_CODE.test(receipt.code), `receipt ${receipt.code}`);
  await shot(page, "journey-1-receipt-360");
  assert(ctx.problems.length === 0, ctx.problems.join("\n"));
  await ctx.close();
});

await test("2. the bureau's clerk finds it in the inbox, registers and assigns it", async () => {
  assert(receipt, "no receipt");
  const ctx = await context(browser, DESK);
  const page = await ctx.newPage();
  await signIn(page, "dengji");
  // Newest cases of the bureau: the petition is in the inbox, waiting to be registered.
  const link = page.getByRole("link", { name: title });
  await link.waitFor({ timeout: 5000 });
  await link.click();
  await page.waitForURL(/\/staff\/cases\//);
  caseUrl = page.url().split("?")[0];
  assert((await page.textContent("body")).includes("赵**"), "the petitioner is not masked");
  assert(!(await page.textContent("body")).includes("13812345678"), "the phone is shown unmasked");
  await register(page);
  await assignToHousingBureau(page);
  assert((await page.textContent("body")).includes("住房和城乡建设局"), "not assigned to 住建局");
  await shot(page, "journey-2-assigned-1280");
  assert(ctx.problems.length === 0, ctx.problems.join("\n"));
  await ctx.close();
});

await test("3. the unit accepts and replies with a 信访处理意见书", async () => {
  assert(caseUrl, "no case");
  const ctx = await context(browser, DESK);
  const page = await ctx.newPage();
  await signIn(page, "zj-fuze");
  await page.goto(caseUrl);
  const reply = await acceptAndOpenReply(page);
  await reply.getByLabel("信访请求").fill("请求修复门前路灯");
  await reply.locator("textarea[name='opinion.facts']").fill("经现场核查，该路段路灯线路老化损坏，已列入维修计划。");
  await reply.getByLabel("处理理由").fill("道路照明设施由市政部门负责维护，应予修复。");
  await reply.getByLabel("法律政策依据").fill("《城市道路管理条例》第二十条");
  await reply.getByLabel("支持", { exact: true }).check();
  await reply.locator("button[type=submit]").click();
  await page.waitForURL(/done=1/);
  assert((await page.textContent("body")).includes("出具处理意见书"), "no reply in the timeline");
  await shot(page, "journey-3-replied-1280");
  assert(ctx.problems.length === 0, ctx.problems.join("\n"));
  await ctx.close();
});

await test("4. the petitioner tracks, reads the reply, rates and asks for review", async () => {
  assert(receipt && caseUrl, "no case");
  const ctx = await context(browser, PHONE);
  let page = await trackOnPhone(ctx);
  const text = await page.locator("main").textContent();
  assert(text.includes(title), "tracking shows another case");
  assert(text.includes("道路照明设施由市政部门负责维护"), "the reply is not shown to the petitioner");
  assert(!text.includes("内部备注"), "internal notes leak to the petitioner");
  await assertNoHorizontalScroll(page, "tracking with a reply");
  await shot(page, "journey-4-tracking-360");
  // 双满意: the bureau satisfied, the unit not satisfied.
  await page.locator("#rate input[name=bureau][value=satisfied], form[action='/track/rate'] input[name=bureau][value=satisfied]").first().check();
  await page.locator("form[action='/track/rate'] input[name=unit][value=unsatisfied]").check();
  await page.locator("form[action='/track/rate'] button[type=submit]").click();
  await page.waitForLoadState();
  assert((await page.textContent("main")).includes("您的评价已记录"), "rating not confirmed");
  // 复查: asked with reasons, within the window the page states.
  const review = page.locator("form[action='/track/review']");
  await review.waitFor();
  await review.locator("textarea[name=reason]").fill("路灯至今仍未修好，答复说已列入计划但没有时间表。");
  await review.locator("button[type=submit]").click();
  await page.waitForLoadState();
  assert((await page.textContent("main")).includes("已提交复查申请"), "review not confirmed");
  await shot(page, "journey-4-review-360");
  await page.close();
  // The same receipt later shows the review under way.
  page = await trackOnPhone(ctx);
  assert((await page.textContent("main")).includes("复查"), "the review is not on the timeline");
  assert(ctx.problems.length === 0, ctx.problems.join("\n"));
  await ctx.close();
});

await browser.close();
process.exit(summary());
