// The experimenter's session in a real browser (Debian's chromium driven by
// playwright-core) against the real analyser over TLS. Started by
// crates/data_analyser/tests/it/web.rs, which runs the analyser (built-in project
// `sample`, numTRs 10), a streamer and a replaying scanner, and passes:
//   RTCLOUD_URL          https://127.0.0.1:PORT
//   RTCLOUD_USER / RTCLOUD_PASSWORD
//   RTCLOUD_CA           the test CA (for this script's own requests)
//   RTCLOUD_SERVER_CERT  the server's certificate (chromium trusts exactly its key)
//   RTCLOUD_STATION      the streamer's station
//   RTCLOUD_SCANNER_DIR  the streamer's allowed folder with the scanner's files
//   RTCLOUD_SCREENSHOTS  where to save a screenshot of each tab
//   CHROMIUM             the browser (default /usr/bin/chromium)
// Exits non-zero, with a screenshot failure.png, at the first check that fails.
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync, mkdirSync } from "node:fs";
import https from "node:https";
import { chromium } from "playwright-core";

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const URL_BASE = env("RTCLOUD_URL");
const USER = env("RTCLOUD_USER");
const PASSWORD = env("RTCLOUD_PASSWORD");
const CA = readFileSync(env("RTCLOUD_CA"));
const STATION = env("RTCLOUD_STATION");
const SCANNER_DIR = env("RTCLOUD_SCANNER_DIR");
const SHOTS = env("RTCLOUD_SCREENSHOTS");
const CHROMIUM = env("CHROMIUM", "/usr/bin/chromium");
// Generous: a guard against hanging on a loaded 2-core machine, not a speed check.
const WAIT = 90_000;

// Chromium trusts the analyser's key only (not every certificate): the base64 SHA-256
// of the server certificate's SubjectPublicKeyInfo.
const cert = new X509Certificate(readFileSync(env("RTCLOUD_SERVER_CERT")));
const spki = createHash("sha256")
  .update(cert.publicKey.export({ type: "spki", format: "der" }))
  .digest("base64");

let passed = 0;
function step(name) {
  console.log(`ok ${++passed} - ${name}`);
}

// A request from this script (not the browser), trusting only the test CA.
function raw(method, path, headers = {}, body) {
  const url = new URL(path, URL_BASE);
  return new Promise((resolve, reject) => {
    const req = https.request(
      { method, host: url.hostname, port: url.port, path: url.pathname + url.search, headers, ca: CA },
      (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode, text, headers: res.headers }));
      },
    );
    req.on("error", reject);
    req.setTimeout(WAIT, () => req.destroy(new Error(`${method} ${path} timed out`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

mkdirSync(SHOTS, { recursive: true });
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [`--ignore-certificate-errors-spki-list=${spki}`],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 860 } });
context.setDefaultTimeout(WAIT);
const page = await context.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(e.message));
const shot = (name) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
const tab = async (name) => {
  await page.click(`#tab-${name}`);
  await page.waitForSelector(`#panel-${name}:not([hidden])`);
};
const pointsOfRun = (run) =>
  page.$$eval(`svg.plot[data-run="${run}"] circle.point`, (c) => c.map((p) => Number(p.dataset.tr)));

try {
  // ---------------------------------------------------------------- login
  await page.goto(`${URL_BASE}/`);
  await page.waitForURL(/\/login\?next=/);
  await page.fill("#user", USER);
  await page.fill("#password", "not the password");
  await page.click("#login-button");
  await page.waitForSelector("#login-error:not([hidden])");
  assert.match(await page.textContent("#login-error"), /wrong user name or password/);
  assert.match(page.url(), /\/login/);
  await shot("login");
  step("a wrong password is refused");

  await page.fill("#password", PASSWORD);
  await page.click("#login-button");
  await page.waitForURL((u) => u.pathname === "/");
  await page.waitForSelector("#run-status:has-text('Idle')");
  assert.equal(await page.textContent("#user"), USER);
  step("login works");

  await page.waitForSelector(`.chip[data-station="${STATION}"][data-connected="true"]`);
  await page.waitForSelector(`.chip[data-kind=listener][data-connected="true"]`);
  assert.match(await page.textContent(".chip[data-kind=listener]"), /listener stimulus: connected/);
  step("the status shows the streamer and the listener connected");

  // ---------------------------------------------------------------- settings
  await tab("settings");
  await page.fill("#setting-runNum", "1, x");
  await page.click("#save-settings");
  await page.waitForSelector("#error-runNum:has-text('must be')");
  step("a setting of the wrong type is refused with the reason");
  await page.fill("#setting-runNum", "1");
  await page.fill("#setting-numTRs", "5");
  await page.click("#save-settings");
  await page.waitForSelector("#settings-message:has-text('Saved')");
  assert.equal(await page.inputValue("#setting-numTRs"), "5");
  await shot("settings");
  step("numTRs edited to 5");

  // ---------------------------------------------------------------- run
  await tab("run");
  await page.click("#run");
  await page.waitForSelector("#run-status:has-text('exit 0')");
  await page.waitForFunction(() => document.querySelectorAll('svg.plot[data-run="1"] circle.point').length === 5);
  assert.deepEqual(await pointsOfRun(1), [1, 2, 3, 4, 5]);
  await shot("run");
  const config = await page.evaluate(() => fetch("/api/launches/1/config.toml").then((r) => r.text()));
  assert.match(config, /^numTRs = 5$/m);
  step("the next run used the edited setting: a plot point for each of its 5 TRs, numTRs = 5 in its config.toml");

  // More TRs than the scanner has written: the run waits for TR 11 until stopped.
  await tab("settings");
  await page.fill("#setting-numTRs", "20");
  await page.click("#save-settings");
  await page.waitForSelector("#settings-message:has-text('Saved')");
  await tab("run");
  await page.click("#run");
  await page.waitForSelector("#run-status[data-state=running]");
  await page.waitForFunction(() => document.querySelectorAll('svg.plot[data-run="1"] circle.point').length === 10);
  assert.deepEqual(await pointsOfRun(1), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  step("Run with the replaying streamer: a plot point for every TR the scanner wrote (10)");
  await page.click("#stop");
  await page.waitForSelector("#run-status[data-state=idle]");
  const stopped = await page.textContent("#run-status");
  assert.match(stopped, /launch 2\) ended: (killed by signal|exit)/);
  assert.doesNotMatch(stopped, /exit 0/);
  await shot("run-stopped");
  step(`Stop works (${stopped.replace(/.*ended: /, "").replace(/ ·.*/, "")})`);

  // ---------------------------------------------------------------- logs
  await tab("logs");
  await page.waitForSelector("#logs .log.session:has-text('setting numTRs changed')");
  await page.waitForSelector("#logs .log.error");
  await shot("logs");
  step("the logs show the setting change and the stopped run as an error");

  // ---------------------------------------------------------------- files
  await tab("files");
  await page.waitForSelector(`#files-list button.folder:has-text("${SCANNER_DIR}")`);
  await page.click(`#files-list button.folder:has-text("${SCANNER_DIR}")`);
  await page.waitForSelector("#files-list input[type=checkbox]");
  const first = await page.$eval("#files-list input[type=checkbox]", (b) => b.value);
  await page.check(`#files-list input[value="${first}"]`);
  await page.click("#copy-files");
  await page.waitForSelector("#files-message:has-text('Copied 1 file')");
  await shot("files");
  console.log(`# copied ${first}`);
  step("a file is copied from the streamer to the analyser");

  // ---------------------------------------------------------------- history
  await tab("history");
  await page.waitForSelector("#history-body tr:nth-child(2)");
  const links = await page.$$eval("#history-body a", (a) => a.map((x) => x.getAttribute("href")));
  assert.ok(links.includes("/api/launches/1/results.tsv"), links.join(" "));
  const results = await page.evaluate(() => fetch("/api/launches/1/results.tsv").then((r) => r.text()));
  assert.equal(results.trim().split("\n").length, 1 + 5, results);
  await shot("history");
  step("the history lists both runs with their files");

  // ---------------------------------------------------------------- CSRF, origin, logout
  const cookie = (await context.cookies()).find((c) => c.name === "__Host-rtcloud");
  assert.ok(cookie, "the session cookie is __Host-rtcloud");
  assert.ok(cookie.secure && cookie.httpOnly && cookie.sameSite === "Strict", JSON.stringify(cookie));
  const jar = { Cookie: `${cookie.name}=${cookie.value}` };
  assert.equal((await raw("GET", "/api/state", jar)).status, 200);
  const inPage = await page.evaluate(() =>
    fetch("/api/stop", { method: "POST" }).then((r) => r.status));
  assert.equal(inPage, 403);
  const noToken = await raw("POST", "/api/run", { ...jar, "Content-Type": "application/json" }, '{"kind":"main"}');
  assert.equal(noToken.status, 403, noToken.text);
  assert.match(noToken.text, /CSRF/);
  step("a POST without the CSRF token is refused");

  const ws = await raw("GET", "/api/live", {
    ...jar, Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", Origin: "https://evil.example",
  });
  assert.equal(ws.status, 403, ws.text);
  step("a WebSocket from another origin is refused");

  await page.click("#logout");
  await page.waitForURL(/\/login/);
  const after = await raw("GET", "/api/state", jar);
  assert.equal(after.status, 401, after.text);
  const home = await raw("GET", "/", jar);
  assert.equal(home.status, 303);
  assert.match(home.headers.location, /^\/login/);
  step("after logout the old cookie is refused");

  assert.deepEqual(pageErrors, [], "no script errors on the page");
  console.log(`${passed} passed, 0 failed`);
} catch (e) {
  await page.screenshot({ path: `${SHOTS}/failure.png`, fullPage: true }).catch(() => {});
  console.error(`not ok ${passed + 1} - ${e.stack || e}`);
  if (pageErrors.length) console.error(`page errors: ${pageErrors.join("\n")}`);
  console.log(`${passed} passed, 1 failed`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
