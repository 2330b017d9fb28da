// @xapi/xapi (the TypeScript xAPI client) against the LRS: every resource as the library calls it, with assertions.
// Run by scripts/conformance.sh (make conformance) after ADL's suite; env XAPI_ENDPOINT, XAPI_USER, XAPI_KEY.
const XAPI = require("@xapi/xapi").default;
const crypto = require("crypto");
const assert = require("assert");
const { XAPI_ENDPOINT: endpoint, XAPI_USER: user, XAPI_KEY: key } = process.env;
const xapi = new XAPI({ endpoint: endpoint, auth: XAPI.toBasicAuth(user, key) });
const agent = { objectType: "Agent", name: "Ada", mbox: "mailto:ada-js-" + Date.now() + "@example.com" };
const activityId = "http://example.com/activities/js-" + Date.now();
(async () => {
  const about = await xapi.getAbout();
  assert(about.data.version.includes("1.0.3"));
  const ids = [];
  for (let i = 0; i < 7; i++) {
    const r = await xapi.sendStatement({ statement: { actor: agent, verb: { id: "http://adlnet.gov/expapi/verbs/experienced", display: { "en-US": "experienced" } }, object: { objectType: "Activity", id: activityId, definition: { name: { "en-US": "JS " + i } } } } });
    ids.push(r.data[0]);
  }
  const one = await xapi.getStatement({ statementId: ids[0] });
  assert.strictEqual(one.data.id, ids[0]);
  let page = await xapi.getStatements({ agent, activity: activityId, limit: 3 });
  let seen = page.data.statements.map(s => s.id);
  while (page.data.more) { page = await xapi.getMoreStatements({ more: page.data.more }); seen = seen.concat(page.data.statements.map(s => s.id)); }
  assert.deepStrictEqual(seen.slice().sort(), ids.slice().sort());
  const since = await xapi.getStatements({ agent, since: new Date(Date.now() - 60000).toISOString(), ascending: true, format: "canonical" });
  assert.strictEqual(since.data.statements.length, 7);
  await xapi.voidStatement({ actor: agent, statementId: ids[1] });
  const voided = await xapi.getVoidedStatement({ voidedStatementId: ids[1] });
  assert.strictEqual(voided.data.id, ids[1]);
  // attachment
  const text = "hello attachment";
  const buf = new TextEncoder().encode(text).buffer;
  const sha2 = crypto.createHash("sha256").update(text).digest("hex");
  // axios in node sends a Blob as application/octet-stream whatever the header: the fetch adapter keeps it
  const xapiFetch = new XAPI({ endpoint: endpoint, auth: XAPI.toBasicAuth(user, key), adapter: "fetch" });
  const withAtt = await xapiFetch.sendStatement({ statement: { actor: agent, verb: { id: "http://adlnet.gov/expapi/verbs/experienced", display: { "en-US": "experienced" } }, object: { id: activityId },
    attachments: [{ usageType: "http://id.tincanapi.com/attachment/supporting_media", display: { "en-US": "text" }, contentType: "text/plain", length: buf.byteLength, sha2 }] }, attachments: [buf] });
  const back = await xapi.getStatement({ statementId: withAtt.data[0], attachments: true });
  assert.strictEqual(back.data[0].id, withAtt.data[0]);
  assert.strictEqual(back.data[1], text);
  // state
  await xapi.createState({ agent, activityId, stateId: "bookmark", state: { page: 1 } });
  await xapi.createState({ agent, activityId, stateId: "bookmark", state: { total: 9 } });
  const state = await xapi.getState({ agent, activityId, stateId: "bookmark" });
  assert.deepStrictEqual(state.data, { page: 1, total: 9 });
  const states = await xapi.getStates({ agent, activityId });
  assert.deepStrictEqual(states.data, ["bookmark"]);
  await xapi.setState({ agent, activityId, stateId: "bookmark", state: { page: 2 }, etag: "*", matchHeader: "If-Match" });
  assert.deepStrictEqual((await xapi.getState({ agent, activityId, stateId: "bookmark" })).data, { page: 2 });
  await xapi.deleteState({ agent, activityId, stateId: "bookmark" });
  // profiles
  await xapi.createActivityProfile({ activityId, profileId: "p", profile: { a: 1 } });
  const ap = await xapi.getActivityProfile({ activityId, profileId: "p" });
  assert.deepStrictEqual(ap.data, { a: 1 });
  const etag = ap.headers.etag;
  await xapi.setActivityProfile({ activityId, profileId: "p", profile: { a: 2 }, etag, matchHeader: "If-Match" });
  assert.deepStrictEqual((await xapi.getActivityProfiles({ activityId })).data, ["p"]);
  await xapi.createAgentProfile({ agent, profileId: "prefs", profile: { theme: "dark" } });
  assert.deepStrictEqual((await xapi.getAgentProfile({ agent, profileId: "prefs" })).data, { theme: "dark" });
  await xapi.deleteAgentProfile({ agent, profileId: "prefs" });
  const person = await xapi.getAgent({ agent });
  assert.deepStrictEqual(person.data.mbox, [agent.mbox]);
  const act = await xapi.getActivity({ activityId });
  assert.strictEqual(act.data.definition.name["en-US"], "JS 6");
  console.log("xapi.js: all calls passed");
})().catch(e => { console.error("FAILED", e.message, e.response && e.response.status, e.response && JSON.stringify(e.response.data)); process.exit(1); });
