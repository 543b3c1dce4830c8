// The dashboards (形势网上判): the leader (lingdao, 佛山市) opens 统计分析 and gets the overview —
// headline tiles, open cases by light, the trend, channels, categories, the districts as a
// treemap and the units ranked, every chart drawn by the vendored ECharts without breaking the
// page's CSP — follows a figure to the cases behind it, a district to its own overview, and the
// operations view; at 1280 px in Chinese and at 360 px in English with large type.
import { launch, context, shot, test, summary, assert, assertNoHorizontalScroll, BASE, PHONE, DESK } from "../lib.mjs";
import { signIn } from "../workbench.mjs";

const browser = await launch();

async function chartsDrawn(page, min) {
  await page.waitForFunction((n) => document.querySelectorAll(".chart.drawn canvas").length >= n, min, { timeout: 15000 });
}

for (const [vp, tag, english] of [[DESK, "1280", false], [PHONE, "360", true]]) {
  await test(`the leader's overview, a figure's cases, a district and operations (${tag} px)`, async () => {
    const ctx = await context(browser, vp);
    const page = await ctx.newPage();
    await signIn(page, "lingdao");
    if (english) {
      await page.getByRole("button", { name: "English" }).click();
      await page.waitForLoadState();
      await page.getByRole("button", { name: /Large type/ }).click();
      await page.waitForLoadState();
    }
    await page.getByRole("link", { name: english ? "Statistics" : "统计分析" }).first().click();
    await page.waitForURL(/\/staff\/dashboard/);
    // This year so far: the demo's petitions are spread over the recent months.
    await page.getByRole("link", { name: english ? "This year so far" : "今年以来" }).click();
    await page.waitForURL(/from=/);
    await chartsDrawn(page, 4);
    const tiles = await page.textContent("#tiles");
    assert(tiles.includes(english ? "Volume" : "信访总量"), `no volume tile: ${tiles}`);
    const volume = Number((await page.locator("#tiles .tile-value").first().textContent()).trim());
    assert(volume > 0, `the volume tile says ${volume}`);
    const live = await page.textContent("#live");
    assert(/\d/.test(live), `no live counts: ${live}`);
    assert(await page.locator("#places canvas").count() > 0, "no treemap of the districts");
    assert(await page.locator("#units table tbody tr").count() > 0, "no units ranked");
    const wide = await page.evaluate(() => [...document.querySelectorAll("main *")]
      .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
      .slice(0, 5).map((e) => `${e.tagName}.${e.className}#${e.id}`));
    assert(wide.length === 0, `wider than the screen: ${wide.join(", ")}`);
    await assertNoHorizontalScroll(page, `overview ${tag}`);
    await shot(page, `dashboard-overview-${tag}`);
    assert(ctx.problems.length === 0, `browser problems: ${ctx.problems.join("; ")}`);

    // The volume tile's cases: as many rows as the figure says (the demo's cases in the period
    // fit on one page of 50 only when the volume is small; otherwise the page is full).
    await page.locator("#tiles .tile-value").first().click();
    await page.waitForURL(/\/staff\/stats\/cases/);
    const rows = await page.locator("#drill tbody tr").count();
    assert(rows === Math.min(volume, 50), `the volume was ${volume} but ${rows} cases are listed`);
    const body = await page.textContent("main");
    assert(!/1[3-9]\d{9}/.test(body), "a full phone number in the list");
    await assertNoHorizontalScroll(page, `cases ${tag}`);
    await shot(page, `dashboard-cases-${tag}`);

    // A district's own overview through the table beside the treemap.
    await page.goBack();
    await page.waitForURL(/\/staff\/dashboard/);
    const places = page.locator("#places details");
    await places.locator("summary").click();
    const first = places.locator("tbody tr th a").first();
    const district = (await first.textContent()).trim();
    await first.click();
    await page.waitForURL(/region=4406\d\d/);
    assert((await page.textContent("h1")).includes(district), `the district's overview is not titled ${district}`);
    await chartsDrawn(page, 1);
    await shot(page, `dashboard-district-${tag}`);

    await page.getByRole("link", { name: english ? "Operations" : "运行", exact: true }).click();
    await page.waitForURL(/\/staff\/dashboard\/operations/);
    assert((await page.textContent("#due-today")).length > 0, "no due-today section");
    assert(/\d/.test(await page.textContent("#stalled")), "no stalled count");
    await assertNoHorizontalScroll(page, `operations ${tag}`);
    await shot(page, `dashboard-operations-${tag}`);

    // The annual report (第四十一条), this year's, as an A4 sheet.
    await page.getByRole("link", { name: english ? "Annual report" : "年度报告", exact: true }).click();
    await page.waitForURL(/\/staff\/stats\/annual/);
    await page.locator("#an-year").selectOption(String(new Date().getFullYear()));
    await page.getByRole("button", { name: english ? "Show" : "查看", exact: true }).click();
    await page.waitForURL(/year=/);
    assert((await page.textContent("#annual h1")).includes("年度信访工作报告"), "no annual report");
    assert(/全年共收到信访事项[1-9]\d*件/.test(await page.textContent("#annual-volume")), "the annual volume is empty");
    await assertNoHorizontalScroll(page, `annual ${tag}`);
    await shot(page, `dashboard-annual-${tag}`);
    assert(ctx.problems.length === 0, `browser problems: ${ctx.problems.join("; ")}`);
    await ctx.close();
  });
}

await browser.close();
process.exit(summary());
