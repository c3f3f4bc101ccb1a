// README command 1 as a new user meets it: `data_analyser demo` is up; log in to the
// printed address with the printed password and press Run. Started by
// crates/data_analyser/tests/it/demo.rs, which then waits for every TR in demo-out.
//   RTCLOUD_URL, RTCLOUD_USER, RTCLOUD_PASSWORD   as the demo printed them
//   RTCLOUD_SERVER_CERT  the demo's server certificate (chromium trusts exactly its key)
//   RTCLOUD_SCREENSHOTS  where to save the screenshot of the finished run
//   CHROMIUM             the browser (default /usr/bin/chromium)
import { launch, login } from "./browser.mjs";

const { browser, shots } = await launch();
const page = await browser.newPage({ viewport: { width: 1366, height: 860 } });
page.setDefaultTimeout(90_000);
try {
  await login(page);
  console.log("ok 1 - logged in with the printed password");
  await page.waitForSelector(`.chip[data-kind=streamer][data-connected="true"]`);
  await page.waitForSelector(`.chip[data-kind=listener][data-connected="true"]`);
  await page.click("#run");
  await page.waitForSelector("#run-status:has-text('exit 0')");
  console.log("ok 2 - Run pressed, the run ended well");
  await page.screenshot({ path: `${shots}/demo-run.png`, fullPage: true });
} catch (e) {
  await page.screenshot({ path: `${shots}/demo-failure.png`, fullPage: true }).catch(() => {});
  console.error(`not ok - ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
