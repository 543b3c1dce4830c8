// Steps in the staff workbench that several browser tests take: signing in and out, and moving
// a case on (register and classify, assign through the unit picker, accept).
import { BASE } from "./lib.mjs";

export const PASSWORD = process.env.HUIYIN_DEMO_PASSWORD ?? "Demo-Pass-2026";

export async function signIn(page, username) {
  await page.goto(BASE + "/staff/login");
  await page.getByLabel("用户名").fill(username);
  await page.getByLabel("密码", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "登录" }).click();
  await page.waitForURL(/\/staff(\?|$)/);
}

export async function signOut(page) {
  await page.getByRole("button", { name: "退出登录" }).click();
  await page.waitForURL(/\/staff\/login/);
}

/** Registers the open case as 申诉求决 in the 信访程序. */
export async function register(page) {
  await page.locator("#act-register select[name='class.class']").selectOption("appeal");
  await page.locator("#act-register select[name='class.route']").selectOption("petition_procedure");
  await page.locator("#act-register button[type=submit]").click();
  await page.waitForURL(/done=1/);
}

/** Opens the routing form and picks 佛山市住建局 through the unit picker, due in 20 days;
 *  `before` runs before the form is sent (e.g. a screenshot). */
export async function assignToHousingBureau(page, before = async () => {}) {
  const route = page.locator("#act-route");
  if (!(await route.evaluate((d) => d.open))) await route.locator("summary").click();
  await page.locator("#unit-q").fill("佛山市住房");
  await page.locator("#unit-q").press("Enter");
  await page.waitForLoadState();
  const pick = page.locator("input[name=unit_pick][value='4406-zj']");
  await pick.waitFor();
  await pick.check();
  const due = new Date(Date.now() + 20 * 86400000).toISOString().slice(0, 10);
  await page.locator("#act-route input[name='kind.due_at']").fill(due);
  await before();
  await page.locator("#act-route form[method=post] button[type=submit]").click();
  await page.waitForURL(/done=1/);
}

/** Accepts the case (受理) and opens the reply form; returns its locator. */
export async function acceptAndOpenReply(page) {
  await page.locator("#act-accept button[type=submit]").click();
  await page.waitForURL(/done=1/);
  const reply = page.locator("#act-reply");
  if (!(await reply.evaluate((d) => d.open))) await reply.locator("summary").click();
  return reply;
}
