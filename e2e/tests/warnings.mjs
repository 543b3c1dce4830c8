// Early warning (预警): the leader (lingdao, 佛山市) opens the warnings of the demo — a possible
// group petition, a petitioner with three unresolved matters, a spike — reads one's figures,
// follows it to a case and acknowledges it with a note; at 1280 px and at 360 px.
import { launch, context, shot, test, summary, assert, assertNoHorizontalScroll, BASE, PHONE, DESK } from "../lib.mjs";
import { signIn } from "../workbench.mjs";

const browser = await launch();

for (const [vp, tag] of [[DESK, "1280"], [PHONE, "360"]]) {
  await test(`the leader reads and acknowledges a warning (${tag} px)`, async () => {
    const ctx = await context(browser, vp);
    const page = await ctx.newPage();
    await signIn(page, "lingdao");
    await page.goto(BASE + "/staff/warnings");
    const body = await page.textContent("main");
    assert(/预警/.test(body), "no warnings page");
    const links = page.locator("main a[href^='/staff/cases/']");
    assert(await links.count() > 0, `no warning links to its cases: ${body.slice(0, 400)}`);
    await assertNoHorizontalScroll(page, `warnings ${tag}`);
    await shot(page, `warnings-${tag}`);
    // Follow the first warning to one of its cases, then come back.
    const href = await links.first().getAttribute("href");
    await page.goto(BASE + href);
    assert(/\/staff\/cases\//.test(page.url()) && (await page.title()).length > 0, `case page: ${page.url()}`);
    await page.goto(BASE + "/staff/warnings");
    // Acknowledge the first open warning with a note; it stays listed, acknowledged, with it.
    const open = page.locator("li.warning.open").first();
    assert(await open.count() === 1, "no open warning to acknowledge");
    const id = await open.getAttribute("id");
    const note = `已安排${tag}专人跟进`;
    await open.locator("textarea[name=note]").fill(note);
    await open.locator("form[action$='/acknowledge'] button[type=submit]").click();
    await page.waitForLoadState("load");
    const done = page.locator(`li#${id}`);
    assert(await done.count() === 1, `warning ${id} gone after acknowledging`);
    const text = await done.textContent();
    assert(text.includes(note), `note not shown on ${id}: ${text.slice(0, 300)}`);
    assert(!(await done.getAttribute("class")).includes("open"), `${id} still open`);
    await assertNoHorizontalScroll(page, `warnings acknowledged ${tag}`);
    await shot(page, `warnings-acknowledged-${tag}`);
    assert(ctx.problems.length === 0, `browser problems: ${ctx.problems.join("; ")}`);
    await ctx.close();
  });
}

await browser.close();
process.exit(summary());
