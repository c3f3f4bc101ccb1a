// What the browser scripts share: their settings from the environment and a headless
// chromium (playwright-core) that trusts exactly the analyser's certificate key.
//   RTCLOUD_SERVER_CERT  the analyser's server certificate
//   RTCLOUD_SCREENSHOTS  where screenshots go (made if missing)
//   CHROMIUM             the browser (default /usr/bin/chromium)
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync, mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

// An environment variable, or `fallback`; an error naming it when neither is there.
export const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};

// The browser and the screenshot folder.
export async function launch() {
  // The base64 SHA-256 of the server certificate's SubjectPublicKeyInfo.
  const cert = new X509Certificate(readFileSync(env("RTCLOUD_SERVER_CERT")));
  const spki = createHash("sha256")
    .update(cert.publicKey.export({ type: "spki", format: "der" }))
    .digest("base64");
  const shots = env("RTCLOUD_SCREENSHOTS");
  mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: env("CHROMIUM", "/usr/bin/chromium"),
    headless: true,
    args: [`--ignore-certificate-errors-spki-list=${spki}`],
  });
  return { browser, shots };
}

// Logs in from the home page with RTCLOUD_USER / RTCLOUD_PASSWORD and waits for the
// idle Run tab.
export async function login(page) {
  await page.goto(`${env("RTCLOUD_URL")}/`);
  await page.waitForURL(/\/login/);
  await page.fill("#user", env("RTCLOUD_USER"));
  await page.fill("#password", env("RTCLOUD_PASSWORD"));
  await page.click("#login-button");
  await page.waitForSelector("#run-status:has-text('Idle')");
}
