// The leader's view (领导): a clerk enters a visit; the leader (lingdao) signs in, finds it in
// 待阅批, instructs (阅批) and takes personal charge (包案); the case page names the leader in
// charge and the view lists the case as instructed and in the leader's charge — at 1280 px and
// at 360 px, with screenshots (leader-*.png).
import { launch, context, shot, test, summary, assert, assertNoHorizontalScroll, BASE, PHONE, DESK } from "../lib.mjs";
import { signIn, signOut } from "../workbench.mjs";

// Opens one whole list of the leader's view and follows 下一页 until `title` shows (true) or
// the list ends (false).
async function findInList(page, list, title) {
  await page.goto(BASE + "/staff/leader?list=" + list);
  for (let n = 0; n < 100; n++) {
    if ((await page.textContent("#" + list)).includes(title)) return true;
    const next = page.locator(`#${list} a[rel=next]`);
    if (await next.count() === 0) return false;
    await page.goto(new URL(await next.getAttribute("href"), BASE).href);
  }
  return false;
}

const browser = await launch();

async function openAction(page, name) {
  const d = page.locator(`#act-${name}`);
  if (!(await d.evaluate((el) => el.open))) await d.locator("summary").click();
  return d;
}

for (const [vp, tag] of [[DESK, "1280"], [PHONE, "360"]]) {
  await test(`the leader instructs and takes charge from the leader's view (${tag} px)`, async () => {
    const ctx = await context(browser, vp);
    const page = await ctx.newPage();
    await signIn(page, "dengji");
    await page.goto(BASE + "/staff/intake");
    const title = `夜间施工噪音扰民 ${tag}-${Date.now() % 100000}`;
    await page.getByLabel("来访", { exact: true }).check();
    await page.getByLabel("姓名", { exact: true }).fill("李秀英");
    await page.getByLabel("联系电话").fill("13912345678");
    await page.getByLabel("标题").fill(title);
    await page.getByLabel("信访内容").fill("小区旁工地连续一个月夜间施工到凌晨，噪音严重影响休息，请求依法处理。");
    await page.getByLabel("事发地区代码").fill("4406");
    await page.getByLabel("内容类别").fill("城乡建设");
    await page.getByRole("button", { name: "登记", exact: true }).click();
    await page.waitForLoadState();
    assert((await page.textContent("body")).includes("受理凭证编号"), "no receipt after intake");
    await signOut(page);

    await signIn(page, "lingdao");
    await page.getByRole("link", { name: "领导阅批" }).click();
    await page.waitForURL(/\/staff\/leader/);
    // The overview shows each list's most urgent rows; the new case (the latest deadline) is
    // found by paging through the whole list.
    await assertNoHorizontalScroll(page, `leader view ${tag}`);
    await shot(page, `leader-view-${tag}`);
    assert(await findInList(page, "awaiting", title), "the new case is not awaiting instruction");
    await assertNoHorizontalScroll(page, `leader list ${tag}`);
    await shot(page, `leader-list-${tag}`);

    await page.locator("#awaiting").getByRole("link", { name: title }).click();
    await page.waitForURL(/\/staff\/cases\//);
    const instruct = await openAction(page, "instruct");
    await instruct.locator("textarea[name=text]").fill("请住建部门会同城管部门三日内核查，依法处理并答复信访人。");
    await shot(page, `leader-instruct-${tag}`);
    await instruct.locator("button[type=submit]").click();
    await page.waitForURL(/done=1/);
    assert((await page.textContent(".timeline")).includes("领导批示"), "no instruction in the timeline");

    const take = await openAction(page, "take_charge");
    await take.locator("button[type=submit]").click();
    await page.waitForURL(/done=1/);
    const inCharge = await page.textContent("#in-charge");
    assert(inCharge.includes("领导") && inCharge.includes("本人"), `no leader in charge on the case page: ${inCharge}`);
    assert(await page.locator("#act-take_charge").count() === 0, "take_charge still offered");
    await assertNoHorizontalScroll(page, `case ${tag}`);
    await shot(page, `leader-case-${tag}`);

    await page.goto(BASE + "/staff/leader");
    assert((await page.textContent("#in-charge")).includes(title), "the case is not in the leader's charge");
    await shot(page, `leader-view-after-${tag}`);
    assert(await findInList(page, "instructed", title), "the case is not listed as instructed");
    assert(!(await findInList(page, "awaiting", title)), "the case still awaits instruction");

    // 统计分析 opens the overview; its 指标表 tab has this month's indicators of the leader's
    // region, with the CSV download.
    await page.getByRole("link", { name: "统计分析" }).click();
    await page.waitForURL(/\/staff\/dashboard/);
    await page.locator("nav.tabs").getByRole("link", { name: "指标表" }).click();
    await page.waitForURL(/\/staff\/stats/);
    assert((await page.textContent("#stats-table")).includes("信访总量"), "no indicators");
    assert(await page.locator("a[href^='/staff/stats.csv']").count() === 1, "no CSV link");
    await assertNoHorizontalScroll(page, `stats ${tag}`);
    await shot(page, `leader-stats-${tag}`);
    assert(ctx.problems.length === 0, ctx.problems.join("\n"));
    await ctx.close();
  });
}

await browser.close();
process.exit(summary());
