// Administration (系统管理): the administrator signs in with the TOTP secret the demo printed,
// walks the staff list and one user's page (grants a role through the unit picker), adds a
// category, sets a local deadline rule and reads the effective policy of a region, and enters
// a year of the holiday calendar, adds, renames and retires a unit — at 1280 px and at 360 px, with screenshots (admin-*.png).
import { readFileSync } from "node:fs";
import { createHmac } from "node:crypto";
import { launch, context, shot, test, summary, assert, assertNoHorizontalScroll, BASE, PHONE, DESK } from "../lib.mjs";
import { PASSWORD } from "../workbench.mjs";

function base32(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0, value = 0;
  const out = [];
  for (const c of s.replace(/=+$/, "")) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) { bits -= 8; out.push((value >>> bits) & 0xff); }
  }
  return Buffer.from(out);
}

function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32(secret)).update(counter).digest();
  const o = mac[mac.length - 1] & 0x0f;
  const n = ((mac[o] & 0x7f) << 24) | (mac[o + 1] << 16) | (mac[o + 2] << 8) | mac[o + 3];
  return String(n % 1000000).padStart(6, "0");
}

const log = readFileSync(process.env.HUIYIN_E2E_LOG, "utf8");
const secret = (log.match(/TOTP secret: ([A-Z2-7]+)/) ?? [])[1];
// A code is accepted once: each sign-in takes the next unused 30-second step (one step of
// drift is allowed).
let lastStep = 0;
function nextCode() {
  const step = Math.max(Math.floor(Date.now() / 30000), lastStep + 1);
  lastStep = step;
  return totp(secret, step);
}

async function signInAdmin(page) {
  await page.goto(BASE + "/staff/login");
  await page.getByLabel("用户名").fill("admin");
  await page.getByLabel("密码", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "登录" }).click();
  await page.waitForURL(/\/staff\/login\/totp/);
  await page.locator("input[name=code]").fill(nextCode());
  await page.locator("form[action='/staff/login/totp'] button[type=submit]").click();
  // An administrator without case work lands on the administration, not an inbox.
  await page.waitForURL(/\/staff\/admin$/);
}

const browser = await launch();

for (const [vp, tag] of [[DESK, "1280"], [PHONE, "360"]]) {
  await test(`the administrator manages users, categories, policies and the calendar (${tag} px)`, async () => {
    assert(secret, "the demo printed no TOTP secret");
    const ctx = await context(browser, vp);
    const page = await ctx.newPage();
    await signInAdmin(page);
    await page.goto(BASE + "/staff/admin");
    assert((await page.textContent("h1")).includes("系统管理"), "no administration page");
    await assertNoHorizontalScroll(page, `admin ${tag}`);
    await shot(page, `admin-overview-${tag}`);

    // The staff list, searched.
    await page.getByRole("link", { name: "用户与角色" }).first().click();
    await page.waitForURL(/\/staff\/admin\/users/);
    assert(await page.locator("table.list tbody tr").count() > 3, "no users listed");
    await assertNoHorizontalScroll(page, `users ${tag}`);
    await shot(page, `admin-users-${tag}`);
    await page.locator("#users-q").fill("deng");
    await page.locator("#users-q").press("Enter");
    await page.waitForURL(/q=deng/);
    await page.locator("table.list a[href='/staff/admin/users/dengji']").click();
    await page.waitForURL(/\/staff\/admin\/users\/dengji/);

    // Grant 信访办理 in 佛山市住建局, picked through the unit search.
    await page.locator("#unit-q").fill("佛山市住房");
    await page.locator("#unit-q").press("Enter");
    await page.waitForLoadState();
    const pick = page.locator("input[name=unit_pick][value='4406-zj']");
    await pick.waitFor();
    await pick.check();
    await page.locator("#grant-role").selectOption("handler");
    await page.getByRole("button", { name: "授予角色" }).last().click();
    await page.waitForLoadState();
    assert((await page.textContent("body")).includes("已授予"), "no grant notice");
    await assertNoHorizontalScroll(page, `user ${tag}`);
    await shot(page, `admin-user-${tag}`);

    // A category under 城乡建设.
    await page.goto(BASE + "/staff/admin/categories");
    const cx = await page.locator("#cat-parent option", { hasText: /^城乡建设$/ }).getAttribute("value");
    await page.locator("#cat-parent").selectOption(cx);
    await page.locator("#cat-name").fill(`路灯照明${tag}`);
    await page.getByRole("button", { name: "新增分类" }).last().click();
    await page.waitForLoadState();
    assert((await page.textContent("body")).includes(`城乡建设/路灯照明${tag}`), "category not added");
    await assertNoHorizontalScroll(page, `categories ${tag}`);
    await shot(page, `admin-categories-${tag}`);

    // A looser-than-statute handling limit is refused next to its field; 24 hours in Foshan.
    await page.goto(BASE + "/staff/admin/policies");
    await page.locator("#pol-region_prefix").fill("4406");
    await page.locator("#pol-amount-handling").fill("90");
    await page.getByRole("button", { name: "保存规定" }).click();
    await page.waitForLoadState();
    assert(await page.locator("#pol-amount-handling-error").count() === 1, "no error next to the handling limit");
    await shot(page, `admin-policies-error-${tag}`);
    await page.locator("#pol-amount-handling").fill("");
    await page.locator("#pol-amount-register_route").fill("24");
    await page.locator("#pol-unit-register_route").selectOption("hours");
    await page.getByRole("button", { name: "保存规定" }).click();
    await page.waitForLoadState();
    assert((await page.textContent("body")).includes("立即生效"), "policy not saved");
    await page.locator("#eff-region").fill("440604");
    await page.getByRole("button", { name: "查看" }).click();
    await page.waitForURL(/region=440604/);
    assert((await page.textContent("body")).includes("24小时"), "the effective policy does not show 24 hours");
    await assertNoHorizontalScroll(page, `policies ${tag}`);
    await shot(page, `admin-policies-${tag}`);

    // 统计与预警: a 基本满意 weight above 1 is refused next to its field; 0.8 is saved.
    await page.goto(BASE + "/staff/admin/indicators");
    await page.locator("#ind-basically_satisfied_weight").fill("1.5");
    await page.getByRole("button", { name: "保存统计口径" }).click();
    await page.waitForLoadState();
    assert(await page.locator("#ind-basically_satisfied_weight-error").count() === 1
      || (await page.textContent("main")).includes("0到1之间"), "no error for a weight above 1");
    await shot(page, `admin-indicators-error-${tag}`);
    await page.locator("#ind-basically_satisfied_weight").fill("0.8");
    await page.getByRole("button", { name: "保存统计口径" }).click();
    await page.waitForLoadState();
    assert((await page.textContent("main")).includes("立即生效"), "indicator configuration not saved");
    assert(await page.locator("#ind-basically_satisfied_weight").inputValue() === "0.8", "the weight in force is not 0.8");
    await assertNoHorizontalScroll(page, `indicators ${tag}`);
    await shot(page, `admin-indicators-${tag}`);

    // The 2027 calendar: a weekday make-up day is refused, then the year is saved.
    await page.goto(BASE + "/staff/admin/calendar?year=2027");
    await page.locator("#cal-days").fill("2027-01-01 off 元旦\n2027-02-08 work 春节");
    await page.getByRole("button", { name: /保存2027年安排/ }).click();
    await page.waitForLoadState();
    assert(await page.locator("#cal-days-error").count() === 1, "no error next to the days");
    await page.locator("#cal-days").fill("2027-01-01 off 元旦\n2027-02-06 off 春节\n2027-02-07 work 春节\n2027-02-10 off 春节");
    await page.getByRole("button", { name: /保存2027年安排/ }).click();
    await page.waitForLoadState();
    assert((await page.textContent("body")).includes("2027年安排已保存"), "calendar not saved");
    await assertNoHorizontalScroll(page, `calendar ${tag}`);
    await shot(page, `admin-calendar-${tag}`);

    // Units (组织机构): find, add under 禅城区信访局 (a bad region first), rename, retire.
    await page.goto(BASE + "/staff/admin/units?q=" + encodeURIComponent("禅城"));
    assert((await page.textContent("table.list")).includes("禅城区"), "the unit search found nothing");
    await assertNoHorizontalScroll(page, `units ${tag}`);
    await shot(page, `admin-units-${tag}`);
    const unitId = `440604-e2e${tag}-${Date.now() % 100000}`;
    await page.locator("#unit-parent_id").fill("440604-xfj");
    await page.locator("#unit-id").fill(unitId);
    await page.locator("#unit-name").fill(`禅城区人民来访接待中心${tag}`);
    await page.locator("#unit-kind").selectOption("township_office");
    await page.locator("#unit-region_code").fill("44060x");
    await page.getByRole("button", { name: "设立单位" }).last().click();
    await page.waitForLoadState();
    assert(await page.locator("#unit-region_code-error").count() === 1, "no error next to the region");
    assert((await page.locator("#unit-name").inputValue()).includes("接待中心"), "the name was not kept");
    await assertNoHorizontalScroll(page, `units error ${tag}`);
    await shot(page, `admin-units-error-${tag}`);
    await page.locator("#unit-region_code").fill("440604");
    await page.getByRole("button", { name: "设立单位" }).last().click();
    await page.waitForURL(/done=added/);
    assert((await page.textContent("main")).includes("单位已设立"), "no notice after adding");
    await page.locator("#rename-name").fill(`禅城区来访接待中心${tag}`);
    await page.getByRole("button", { name: "更名" }).click();
    await page.waitForURL(/done=renamed/);
    assert((await page.textContent("main")).includes("更名："), "no rename in the history");
    await assertNoHorizontalScroll(page, `unit ${tag}`);
    await shot(page, `admin-unit-${tag}`);
    // Retiring asks first; declining keeps the unit, accepting retires it.
    page.once("dialog", (d) => d.dismiss());
    await page.getByRole("button", { name: "撤销单位" }).click();
    assert(!page.url().includes("done=retired"), "a declined confirmation still posted");
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: "撤销单位" }).click();
    await page.waitForURL(/done=retired/);
    assert((await page.textContent("main")).includes("已撤销"), "the unit is not shown as retired");
    await shot(page, `admin-unit-retired-${tag}`);

    // The two refused forms answer 422 on purpose (the browser logs the status).
    const problems = ctx.problems.filter((p) => !p.includes("status of 422"));
    assert(problems.length === 0, problems.join("\n"));
    await ctx.close();
  });
}

await browser.close();
process.exit(summary());
