// TinCanJS (Rustici's JavaScript client, in node) against the LRS: every resource as the library calls it, with assertions.
// Run by scripts/conformance.sh (make conformance) after ADL's suite; env XAPI_ENDPOINT, XAPI_USER, XAPI_KEY.
const TinCan = require("tincanjs");
const assert = require("assert");
const { XAPI_ENDPOINT: endpoint, XAPI_USER: user, XAPI_KEY: key } = process.env;
const lrs = new TinCan.LRS({ endpoint: endpoint, username: user, password: key, allowFail: false, version: "1.0.2" });
const actor = new TinCan.Agent({ name: "Bob", mbox: "mailto:bob-tc-" + Date.now() + "@example.com" });
const activityId = "http://example.com/activities/tc-" + Date.now();
const p = (fn) => new Promise((resolve, reject) => fn((err, res) => err ? reject(new Error(String(err) + " " + JSON.stringify(res && res.responseText || res))) : resolve(res)));
(async () => {
  const about = await p(cb => lrs.about({ callback: cb }));
  assert(about.version.includes("1.0.3"));
  const ids = [];
  for (let i = 0; i < 5; i++) {
    const st = new TinCan.Statement({ actor, verb: { id: "http://adlnet.gov/expapi/verbs/attempted" }, target: { id: activityId, definition: { name: { "en-US": "TC " + i } } } });
    await p(cb => lrs.saveStatement(st, { callback: cb }));
    ids.push(st.id);
  }
  const one = await p(cb => lrs.retrieveStatement(ids[0], { callback: cb }));
  assert.strictEqual(one.id, ids[0]);
  let result = await p(cb => lrs.queryStatements({ params: { agent: actor, activity: new TinCan.Activity({ id: activityId }), limit: 2 }, callback: cb }));
  let seen = result.statements.map(s => s.id);
  while (result.more) { result = await p(cb => lrs.moreStatements({ url: result.more, callback: cb })); seen = seen.concat(result.statements.map(s => s.id)); }
  assert.deepStrictEqual(seen.sort(), ids.slice().sort());
  const batch = [0, 1].map(i => new TinCan.Statement({ actor, verb: { id: "http://adlnet.gov/expapi/verbs/experienced" }, target: { id: activityId } }));
  await p(cb => lrs.saveStatements(batch, { callback: cb }));
  const since = await p(cb => lrs.queryStatements({ params: { agent: actor, since: new Date(Date.now() - 60000).toISOString(), verb: new TinCan.Verb({ id: "http://adlnet.gov/expapi/verbs/experienced" }) }, callback: cb }));
  assert.strictEqual(since.statements.length, 2);
  // state
  await p(cb => lrs.saveState("bookmark", { page: 3 }, { agent: actor, activity: new TinCan.Activity({ id: activityId }), contentType: "application/json", callback: cb }));
  const state = await p(cb => lrs.retrieveState("bookmark", { agent: actor, activity: new TinCan.Activity({ id: activityId }), callback: cb }));
  assert.deepStrictEqual(state.contents, { page: 3 });
  await p(cb => lrs.saveState("bookmark", { page: 4 }, { agent: actor, activity: new TinCan.Activity({ id: activityId }), lastSHA1: state.etag, contentType: "application/json", callback: cb }));
  const ids2 = await p(cb => lrs.retrieveStateIds({ agent: actor, activity: new TinCan.Activity({ id: activityId }), callback: cb }));
  assert.deepStrictEqual(ids2, ["bookmark"]);
  await p(cb => lrs.dropState("bookmark", { agent: actor, activity: new TinCan.Activity({ id: activityId }), callback: cb }));
  // profiles
  await p(cb => lrs.saveActivityProfile("prof", "text profile", { activity: new TinCan.Activity({ id: activityId }), contentType: "text/plain", callback: cb }));
  const ap = await p(cb => lrs.retrieveActivityProfile("prof", { activity: new TinCan.Activity({ id: activityId }), callback: cb }));
  assert.strictEqual(ap.contents, "text profile");
  await p(cb => lrs.saveActivityProfile("prof", "second", { activity: new TinCan.Activity({ id: activityId }), lastSHA1: ap.etag, contentType: "text/plain", callback: cb }));
  await p(cb => lrs.saveAgentProfile("prefs", { theme: "dark" }, { agent: actor, contentType: "application/json", callback: cb }));
  const agp = await p(cb => lrs.retrieveAgentProfile("prefs", { agent: actor, callback: cb }));
  assert.deepStrictEqual(agp.contents, { theme: "dark" });
  const act = await p(cb => lrs.retrieveActivity(activityId, { callback: cb }));
  assert.strictEqual(act.id, activityId);
  console.log("TinCanJS: all calls passed");
})().catch(e => { console.error("FAILED", e.message); process.exit(1); });
