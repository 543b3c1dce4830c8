// Notices (工作通知) and broadcasts (定向发送): the housing bureau's head (zj-fuze) sees the
// unread count in the frame, opens 通知, finds the demo leader's broadcast and the unit's case
// notices, and marks one read; the city's leader (lingdao) opens 定向发送 and the delivery
// record of a broadcast — at 1280 px and at 360 px, with screenshots (notices-*.png).
import { launch, context, shot, test, summary, assert, assertNoHorizontalScroll, DESK, PHONE } from "../lib.mjs";
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
    const list = await page.textContent("ol.notices");
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

await browser.close();
summary();
