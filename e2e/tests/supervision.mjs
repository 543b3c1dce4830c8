// The supervisors' view (督办): the province's supervisor (sheng-ducha) opens 督办, finds the
// demo's cases under supervision, opens one and sees its 督办单; the city department's handler
// (zj-chengban) answers the order in writing and the order shows as answered — at 1280 px and
// at 360 px, with screenshots (supervision-*.png).
import { launch, context, shot, test, summary, assert, assertNoHorizontalScroll, BASE, PHONE, DESK } from "../lib.mjs";
import { signIn, signOut } from "../workbench.mjs";

const browser = await launch();

async function openAction(page, name) {
  const d = page.locator(`#act-${name}`);
  if (!(await d.evaluate((el) => el.open))) await d.locator("summary").click();
  return d;
}

for (const [vp, tag] of [[DESK, "1280"], [PHONE, "360"]]) {
  await test(`a supervisor finds an open 督办单 and the unit answers it (${tag} px)`, async () => {
    const ctx = await context(browser, vp);
    const page = await ctx.newPage();
    await signIn(page, "sheng-ducha");
    await page.getByRole("link", { name: "督办", exact: true }).first().click();
    await page.waitForURL(/\/staff\/supervision/);
    for (const id of ["named", "open-orders", "overdue", "stalled", "sent-back", "unsatisfied"]) {
      assert(await page.locator("#" + id).count() === 1, `no list ${id}`);
    }
    await assertNoHorizontalScroll(page, `supervision view ${tag}`);
    await shot(page, `supervision-view-${tag}`);
    // The demo's named supervision: phone orders of the province to the city's departments;
    // the first whose order still awaits its answer (an earlier run answered one).
    const hrefs = await page.locator("#named a[href^='/staff/cases/']").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    assert(hrefs.length > 0, "no case under named supervision in the demo");
    const open = [];
    for (const h of hrefs) {
      await page.goto(new URL(h, BASE).href);
      if ((await page.textContent("#supervision")).includes("待答复")) open.push(h);
    }
    assert(open.length > 0, "every named case's order is answered already");
    await page.goto(new URL(open[0], BASE).href);
    const section = await page.textContent("#supervision");
    assert(section.includes("电话督办") && section.includes("挂牌督办"), `no phone order on the case: ${section}`);
    await assertNoHorizontalScroll(page, `supervised case ${tag}`);
    await shot(page, `supervision-case-${tag}`);
    await signOut(page);

    // The city housing bureau's handler answers one of them that is its own.
    await signIn(page, "zj-chengban");
    let href = null;
    for (const h of open) {
      await page.goto(new URL(h, BASE).href);
      if (await page.locator("#act-answer_supervision").count() === 1) { href = h; break; }
    }
    assert(href !== null, "no open order of the housing bureau among the named cases");
    const answer = await openAction(page, "answer_supervision");
    await answer.locator("textarea[name=text]").fill("已会同街道现场核查，维修方案本周确定，下周书面答复信访人。");
    await shot(page, `supervision-answer-${tag}`);
    await answer.locator("button[type=submit]").click();
    await page.waitForURL(/done=1/);
    const after = await page.textContent("#supervision");
    assert(after.includes("已答复") && after.includes("维修方案本周确定"), `the answer is not shown: ${after}`);
    assert((await page.textContent(".timeline")).includes("督办回复"), "no answer in the timeline");
    await shot(page, `supervision-answered-${tag}`);
    await ctx.close();
  });
}

for (const [vp, tag] of [[DESK, "1280"], [PHONE, "360"]]) {
  await test(`the circulars list of this month prints (${tag} px)`, async () => {
    const ctx = await context(browser, vp);
    const page = await ctx.newPage();
    await signIn(page, "sheng-ducha");
    await page.goto(new URL("/staff/supervision", BASE).href);
    await page.getByRole("link", { name: /通报列表/ }).click();
    await page.waitForURL(/\/staff\/supervision\/circulars/);
    const list = await page.textContent("#circulars");
    assert(list.includes("予以通报"), `no demo circular: ${list}`);
    assert(list.includes("广东省信访局"), "the circulating unit is not named");
    await assertNoHorizontalScroll(page, `circulars ${tag}`);
    await shot(page, `supervision-circulars-${tag}`);
    await page.emulateMedia({ media: "print" });
    await shot(page, `supervision-circulars-print-${tag}`);
    await ctx.close();
  });
}

await browser.close();
summary();
