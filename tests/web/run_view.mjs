// The Run tab's live views during a run (issue 10), in headless chromium: the brain
// view (three slices, ROI outline, t-map overlay), the motion plot and the latency plot
// must each update with every TR, without reloading. Started by
// crates/data_analyser/tests/it/run_view.rs, which starts the scanner's replay once
// this script has pressed Run (so the page sees every TR).
//   RTCLOUD_URL, RTCLOUD_USER, RTCLOUD_PASSWORD, RTCLOUD_SERVER_CERT   the analyser
//   RTCLOUD_TRS          how many TRs the run has
//   RTCLOUD_SCREENSHOTS  where run-view-mid.png and run-view-end.png go
//   CHROMIUM             the browser (default /usr/bin/chromium)
import { env, launch, login } from "./browser.mjs";

const trs = Number(env("RTCLOUD_TRS"));
let step = 0;
const ok = (text) => console.log(`ok ${++step} - ${text}`);
const check = (cond, text) => {
  if (!cond) throw new Error(text);
  ok(text);
};

const { browser, shots } = await launch();
const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
page.setDefaultTimeout(120_000);
let loads = 0;
page.on("load", () => loads++);
try {
  await login(page);
  await page.waitForSelector(`.chip[data-kind=streamer][data-connected="true"]`);
  ok("logged in, streamer connected");
  const loadsBefore = loads;
  // Every TR each view shows, in the order it showed them (its data-tr attribute).
  await page.evaluate(() => {
    window.seen = { "brain-view": [], "motion-plot": [], "latency-plot": [] };
    for (const id of Object.keys(window.seen)) {
      new MutationObserver(() => {
        const tr = document.getElementById(id).dataset.tr;
        const list = window.seen[id];
        if (tr && list[list.length - 1] !== Number(tr)) list.push(Number(tr));
      }).observe(document.getElementById(id), { attributes: true, attributeFilter: ["data-tr"] });
    }
  });
  await page.click("#run");
  ok("Run pressed");
  const mid = Math.ceil(trs / 2);
  await page.waitForFunction((n) => Number(document.getElementById("brain-view").dataset.tr) >= n, mid);
  await page.locator("#run-view").screenshot({ path: `${shots}/run-view-mid.png` });
  ok(`the views reached TR ${mid} (screenshot run-view-mid.png)`);
  await page.waitForSelector("#run-status:has-text('exit 0')");
  await page.waitForFunction((n) => ["brain-view", "motion-plot", "latency-plot"]
    .every((id) => Number(document.getElementById(id).dataset.tr) === n), trs);
  await page.locator("#run-view").screenshot({ path: `${shots}/run-view-end.png` });
  await page.screenshot({ path: `${shots}/run-view-page.png`, fullPage: true });
  ok("the run ended with every view at its last TR (run-view-end.png, run-view-page.png)");

  const seen = await page.evaluate(() => window.seen);
  const every = [...Array(trs).keys()].map((k) => k + 1);
  for (const id of ["motion-plot", "latency-plot"]) {
    check(JSON.stringify(seen[id]) === JSON.stringify(every),
      `${id} updated with each TR 1..${trs}: ${JSON.stringify(seen[id])}`);
  }
  // The brain view is fetched after its event; under load two TRs may come between
  // fetches, so it must update in order and show most TRs.
  const brain = seen["brain-view"];
  const rising = brain.every((tr, k) => k === 0 || tr > brain[k - 1]);
  check(rising && brain.length >= Math.ceil(trs * 0.6) && brain[brain.length - 1] === trs,
    `brain-view updated TR by TR (${brain.length} of ${trs}): ${JSON.stringify(brain)}`);
  check(loads === loadsBefore, "no reload during the run");

  // What is drawn: three slices, the ROI outline (cyan) and the t-map (red to yellow).
  const drawn = await page.evaluate(() => {
    const canvases = [...document.querySelectorAll("#brain-view canvas.slice")];
    const count = (c, test) => {
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (test(d[i], d[i + 1], d[i + 2])) n++;
      return n;
    };
    return {
      planes: canvases.map((c) => c.dataset.plane),
      outline: canvases.map((c) => count(c, (r, g, b) => r < 60 && g > 180 && b > 200)),
      overlay: canvases.map((c) => count(c, (r, g, b) => r > 200 && b < 60 && g >= 60)),
      motion: document.querySelectorAll("#motion-plot svg polyline").length,
      bars: document.querySelectorAll("#latency-plot svg rect[data-tr]").length,
    };
  });
  check(JSON.stringify(drawn.planes) === JSON.stringify(["axial", "coronal", "sagittal"]),
    `three orthogonal slices: ${drawn.planes}`);
  check(drawn.outline.every((n) => n > 0), `the ROI outline on each slice: ${drawn.outline} pixels`);
  check(drawn.overlay.some((n) => n > 0), `the t-map over its threshold: ${drawn.overlay} pixels`);
  // And what it shows: the activated ROI over the threshold (positive t) in most of its
  // voxels on the axial slice.
  const roiT = await page.evaluate(async () => {
    const view = await (await fetch("/api/brain-view")).json();
    const axial = view.slices[0];
    const inside = axial.t.filter((_, i) => axial.roi[i] === 1);
    return { over: inside.filter((t) => t > view.t_threshold).length, of: inside.length };
  });
  check(roiT.of > 0 && roiT.over * 2 > roiT.of,
    `the ROI is active on the t-map: ${roiT.over} of its ${roiT.of} axial voxels over the threshold`);
  check(drawn.motion === 3 + 3 + 2, `six parameters, FD and its threshold: ${drawn.motion} lines`);
  check(drawn.bars === trs * 6, `a bar of six stages per TR: ${drawn.bars} parts`);
  // Issue 14: each TR's whole timeline. The stages in order, every TR's delivery
  // acknowledged by the listener (its bar then has a delivery part). The scanner's part
  // is 0 here: a replay faster than the synthetic TR makes each volume the fastest so
  // far relative to its AcquisitionTime (see docs/user-guide.md, timeline.tsv).
  await page.waitForFunction((n) => document.querySelectorAll(
    "#latency-plot svg rect[data-tr] title").length === n * 6
    && [...document.querySelectorAll("#latency-plot svg rect[data-tr] title")]
      .filter((t) => / delivery /.test(t.textContent) && !/ 0\.0 ms$/.test(t.textContent)).length === n, trs);
  const timeline = await page.evaluate(async () => {
    const state = await (await fetch("/api/state")).json();
    const latency = state.run_view.latency;
    return {
      names: latency[0].stages.map((s) => s.name),
      ordered: latency.every((l) => l.stages.every((s) => s.ms >= 0)),
      totals: latency.every((l) => Math.abs(l.stages.reduce((a, s) => a + s.ms, 0) - l.total_ms) < 0.01),
    };
  });
  check(JSON.stringify(timeline.names) === JSON.stringify(
    ["scanner", "console", "link", "analyser", "project", "delivery"]),
  `the timeline's stages: ${timeline.names}`);
  check(timeline.ordered && timeline.totals,
    "every stage of every TR is 0 or more and the stages add up to the total");
  await page.locator("#latency-plot").screenshot({ path: `${shots}/latency-plot.png` });
  ok("latency-plot.png");
} catch (e) {
  await page.screenshot({ path: `${shots}/run-view-failure.png`, fullPage: true }).catch(() => {});
  console.error(`not ok - ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
