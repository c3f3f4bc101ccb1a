// The live protocol QA pages (issue 12) in a real browser (Debian's chromium driven by
// playwright-core) against the real analyser over TLS. Started by
// crates/data_analyser/tests/it/qa.rs with one argument, a JSON file:
//   { url, user, password, ca, server_cert, screenshots, chromium }
// The analyser's project station is console-b; two streamers (console-a, console-b)
// are connected. Prints READY once logged in with the Run tab and both stations' QA
// pages open (the test then starts both consoles' scanners at once), then PASS, or
// FAIL with the reason (and a screenshot failure.png).
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync, mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
// Generous: a guard against hanging on a loaded 2-core machine, not a speed check.
const WAIT = 90_000;
const cert = new X509Certificate(readFileSync(config.server_cert));
const spki = createHash("sha256")
  .update(cert.publicKey.export({ type: "spki", format: "der" }))
  .digest("base64");

mkdirSync(config.screenshots, { recursive: true });
const browser = await chromium.launch({
  executablePath: config.chromium,
  headless: true,
  args: [`--ignore-certificate-errors-spki-list=${spki}`],
});
const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
context.setDefaultTimeout(WAIT);
const pageErrors = [];
const open = async (path) => {
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(`${config.url}${path}`);
  return page;
};
const shot = (page, name) => page.screenshot({ path: `${config.screenshots}/${name}.png`, fullPage: true });
const seriesOf = (page) => page.$$eval(".qa-series", (s) => s.map((x) => [x.dataset.series, x.dataset.verdict]));
const redRows = (page) => page.$$eval("tr[data-verdict=red]", (r) => r.map((x) => x.dataset.parameter));

let main;
try {
  main = await open("/");
  await main.waitForURL(/\/login\?next=/);
  await main.fill("#user", config.user);
  await main.fill("#password", config.password);
  await main.click("#login-button");
  await main.waitForURL((u) => u.pathname === "/");
  for (const station of ["console-a", "console-b"]) {
    await main.waitForSelector(`.chip[data-station="${station}"][data-connected="true"]`);
  }
  const qaA = await open("/qa?station=console-a");
  const qaB = await open("/qa?station=console-b");
  await qaA.waitForSelector("#qa-station:has-text('console-a')");
  await qaB.waitForSelector("#qa-station:has-text('console-b')");
  assert.deepEqual(await seriesOf(qaA), []);
  assert.deepEqual(await seriesOf(qaB), []);
  console.log("READY");

  // Live: the series arrive over the pages' WebSockets while the consoles write them.
  await qaA.waitForSelector(".qa-series[data-verdict=green]");
  await qaB.waitForSelector(".qa-series[data-verdict=red]");
  await main.waitForSelector("#qa-banner:not([hidden])");
  // Both series have been checked by now, so a series on the wrong page would show.
  assert.deepEqual(await seriesOf(qaA), [["scanner-a/20261201_a/001_000002", "green"]]);
  assert.deepEqual(await seriesOf(qaB), [["scanner-b/20261201_b/001_000006", "red"]]);
  assert.deepEqual(await redRows(qaA), []);
  assert.deepEqual(await redRows(qaB), ["flip_angle_deg"]);
  assert.match(await qaB.textContent(".qa-series"), /template Research\^Rorden_Prisma \/ cmrr_Asc/);
  assert.match(await main.textContent("#qa-banner"), /series scanner-b\/20261201_b\/001_000006 deviates .*flip_angle_deg/);
  await shot(qaA, "qa-console-a");
  await shot(qaB, "qa-console-b");
  await shot(main, "run-tab-qa-banner");
  assert.deepEqual(pageErrors, []);
  console.log("PASS");
} catch (e) {
  if (main) await shot(main, "failure").catch(() => {});
  console.log(`FAIL ${String(e.message || e).replace(/\n/g, " ")}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
