// The staff workbench: a clerk (登记员) signs in, registers a petition entered at the desk and
// assigns it (交办) to 佛山市住建局; the unit signs in, accepts and replies with a
// 信访处理意见书; the clerk finds the case by search — at 1280 px and at 360 px, with screenshots (staff-*.png).
import { launch, context, shot, test, summary, assert, assertNoHorizontalScroll, BASE, PHONE, DESK } from "../lib.mjs";
import { signIn, signOut, register, assignToHousingBureau, acceptAndOpenReply } from "../workbench.mjs";

const browser = await launch();

for (const [vp, tag] of [[DESK, "1280"], [PHONE, "360"]]) {
  await test(`clerk registers and assigns, the unit accepts and replies (${tag} px)`, async () => {
    const ctx = await context(browser, vp);
    const page = await ctx.newPage();
    await page.goto(BASE + "/staff");
    assert(page.url().includes("/staff/login"), "the workbench did not ask to sign in");
    await shot(page, `staff-login-${tag}`);
    // A wrong password answers plainly.
    await page.getByLabel("用户名").fill("dengji");
    await page.getByLabel("密码", { exact: true }).fill("wrong-password-1");
    await page.getByRole("button", { name: "登录" }).click();
    assert((await page.textContent("body")).includes("用户名、密码或动态口令不正确"), "no message for a wrong password");

    await signIn(page, "dengji");
    assert((await page.textContent("h1")).includes("收件箱"), "no inbox");
    assert(await page.locator("table.inbox .light").count() > 0, "no lights in the inbox");
    await assertNoHorizontalScroll(page, `inbox ${tag}`);
    await shot(page, `staff-inbox-${tag}`);

    // Desk intake of a visit.
    await page.goto(BASE + "/staff/intake");
    const title = `楼道照明损坏 ${tag}-${Date.now() % 100000}`;
    await page.getByLabel("来访", { exact: true }).check();
    await page.getByLabel("姓名", { exact: true }).fill("王志强");
    await page.getByLabel("联系电话").fill("13912345678");
    await page.getByLabel("标题").fill(title);
    await page.getByLabel("信访内容").fill("所住楼道照明损坏两个月，老人夜间上下楼多次摔倒，物业一直推诿。");
    await page.getByLabel("事发地区代码").fill("4406");
    await page.getByLabel("内容类别").fill("城乡建设");
    await assertNoHorizontalScroll(page, `intake ${tag}`);
    await shot(page, `staff-intake-${tag}`);
    await page.getByRole("button", { name: "登记", exact: true }).click();
    await page.waitForLoadState();
    assert((await page.textContent("body")).includes("受理凭证编号"), "no receipt after intake");
    await shot(page, `staff-intake-done-${tag}`);
    await page.getByRole("link", { name: "打开案件" }).click();
    await page.waitForURL(/\/staff\/cases\//);
    const caseUrl = page.url().split("?")[0];

    // Register and classify, then 交办 to 佛山市住建局 through the unit picker.
    await register(page);
    await assignToHousingBureau(page, () => shot(page, `staff-route-${tag}`));
    assert((await page.textContent("body")).includes("住房和城乡建设局"), "not routed to 住建局");
    await assertNoHorizontalScroll(page, `case ${tag}`);
    await shot(page, `staff-case-routed-${tag}`);

    // 检索: the clerk finds the case by a word of its text; the word is marked.
    await page.getByRole("link", { name: "检索" }).click();
    await page.waitForURL(/\/staff\/search/);
    await page.locator("#search-q").fill("楼道照明");
    await page.getByRole("button", { name: "检索", exact: true }).click();
    await page.waitForURL(/q=/);
    assert((await page.textContent("#search-hits")).includes(title), "the case is not found by search");
    assert(await page.locator("#search-hits mark").count() > 0, "no highlighted words");
    await assertNoHorizontalScroll(page, `search ${tag}`);
    await shot(page, `staff-search-${tag}`);
    await signOut(page);

    // The unit: its head accepts and replies (the opinion is signed by the unit head).
    await signIn(page, "zj-fuze");
    await page.goto(caseUrl);
    const reply = await acceptAndOpenReply(page);
    // First without the facts: the message sits next to the field.
    await reply.getByLabel("信访请求").fill("请求修复楼道照明");
    await reply.getByLabel("处理理由").fill("楼道照明属于物业服务范围，应予修复。");
    await reply.getByLabel("法律政策依据").fill("《物业管理条例》第三十五条");
    await reply.getByLabel("支持", { exact: true }).check();
    await reply.locator("button[type=submit]").click();
    await page.waitForLoadState();
    assert(await page.locator("#act-opinion-facts-error").count() === 1, "no message next to the missing facts");
    assert((await page.locator("#act-reply textarea[name='opinion.request']").inputValue()).includes("楼道照明"), "entered text lost");
    await shot(page, `staff-reply-error-${tag}`);
    await page.locator("#act-reply textarea[name='opinion.facts']").fill("经现场核查，楼道灯具老化损坏，物业未及时维修。");
    await page.locator("#act-reply button[type=submit]").click();
    await page.waitForURL(/done=1/);
    assert((await page.textContent("body")).includes("出具处理意见书"), "no reply in the timeline");
    await shot(page, `staff-case-replied-${tag}`);
    await page.getByRole("link", { name: "信访处理意见书" }).click();
    await page.waitForURL(/documents\/opinion/);
    assert(await page.locator(".doc .seal").count() === 1, "no seal placeholder");
    await shot(page, `staff-document-${tag}`);
    // The wrong password (401) and the missing facts (422) were deliberate; nothing else.
    const problems = ctx.problems.filter((p) => !/status of (401|422)/.test(p));
    assert(problems.length === 0, problems.join("\n"));
    await ctx.close();
  });
}

await browser.close();
process.exit(summary());
