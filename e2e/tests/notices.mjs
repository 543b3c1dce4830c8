// Notices (工作通知) and broadcasts (定向发送): the housing bureau's head (zj-fuze) sees the
// unread count in the frame, opens 通知, finds the demo leader's broadcast and the unit's case
// notices, and marks one read; the city's leader (lingdao) opens 定向发送 and the delivery
// record of a broadcast — at 1280 px and at 360 px, with screenshots (notices-*.png).
import { launch, context, shot, test, summary, assert, assertNoHorizontalScroll, BASE, DESK, PHONE } from "../lib.mjs";
import { signIn, signOut } from "../workbench.mjs";

const browser = await launch();

for (const [vp, tag] of [[DESK, "1280"], [PHONE, "360"]]) {
  await test(`a unit head reads notices and a leader sees who received a broadcast (${tag} px)`, async () => {
    const ctx = await context(browser, vp);
    const page = await ctx.newPage();
    await signIn(page, "zj-fuze");
    const badge = page.locator("nav.main .count-badge");
    assert(await badge.count() === 1, "no unread count in the frame");
    const before = Number(await badge.textContent());
    assert(before > 0, "the unread count is zero");
    await page.getByRole("link", { name: /^通知/ }).first().click();
    await page.waitForURL(/\/staff\/notices/);
    // The worker may still be delivering the demo's notices (the broadcast is sent last).
    let list = await page.textContent("ol.notices");
    for (let i = 0; i < 60 && !list.includes("关于做好节前信访工作的通知"); i++) {
      await page.waitForTimeout(1000);
      await page.reload();
      list = await page.textContent("ol.notices");
    }
    assert(list.includes("关于做好节前信访工作的通知"), "the demo broadcast is not among the notices");
    assert(/转送件|交办件|催办|督办单/.test(list), "no case notice of the unit");
    await assertNoHorizontalScroll(page, `notices ${tag}`);
    await shot(page, `notices-list-${tag}`);
    // Marking one read: that notice is no longer unread (the count itself may still grow while
    // the worker delivers the demo's notices).
    const first = page.locator("li.notice.unread").first();
    const id = await first.getAttribute("id");
    await first.locator("button[type=submit]").click();
    await page.waitForURL(/\/staff\/notices/);
    const cls = await page.locator("#" + id).getAttribute("class");
    assert(!cls.includes("unread"), `notice ${id} is still unread: ${cls}`);
    await signOut(page);

    await signIn(page, "lingdao");
    await page.getByRole("link", { name: "定向发送", exact: true }).first().click();
    await page.waitForURL(/\/staff\/broadcasts$/);
    assert((await page.textContent("#groups")).includes("佛山市职能部门负责人"), "no demo group");
    await assertNoHorizontalScroll(page, `broadcasts ${tag}`);
    await shot(page, `notices-broadcasts-${tag}`);
    await page.locator("#sent a", { hasText: "关于做好节前信访工作的通知" }).first().click();
    await page.waitForURL(/\/staff\/broadcasts\/[0-9a-f-]+$/);
    const delivery = await page.textContent("#delivery");
    assert(delivery.includes("负责人 佛山市住建局"), `the housing bureau's head is not on the delivery record: ${delivery}`);
    await assertNoHorizontalScroll(page, `broadcast delivery ${tag}`);
    await shot(page, `notices-delivery-${tag}`);
    await ctx.close();
  });
}

await test("notices and broadcasts in English with large type on a phone", async () => {
  const ctx = await context(browser, PHONE);
  const page = await ctx.newPage();
  await signIn(page, "lingdao");
  await page.getByRole("button", { name: "大字模式" }).click();
  await page.getByRole("button", { name: "English" }).click();
  await page.waitForLoadState();
  assert((await page.getAttribute("html", "lang")) === "en", "English not chosen");
  await page.goto(BASE + "/staff/notices");
  assert(await page.evaluate(() => document.documentElement.classList.contains("large")), "large type lost");
  const h1 = await page.textContent("h1");
  assert(h1.includes("Notices"), `the notices page is not in English: ${h1}`);
  await assertNoHorizontalScroll(page, "notices large en");
  await shot(page, "notices-list-large-en-360");
  await page.goto(BASE + "/staff/broadcasts");
  const groups = await page.textContent("#groups");
  assert(groups.includes("Region") && groups.includes("roles"), `group reach not in English: ${groups}`);
  await assertNoHorizontalScroll(page, "broadcasts large en");
  await shot(page, "notices-broadcasts-large-en-360");
  await ctx.close();
});

await browser.close();
summary();
