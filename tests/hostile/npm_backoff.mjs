// The official npm ConvexClient against a server at its connection cap: it is
// refused with 1013, backs off, reconnects, and gets its subscription served.
// Usage: node npm_backoff.mjs URL   (run from a folder with convex installed)
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";

const url = process.argv[2];
const show = (level) => (...args) => console.log(`[client ${level}]`, ...args.map(String));
const logger = { log: show("log"), warn: show("warn"), error: show("error"), logVerbose: () => {} };
const client = new ConvexClient(url, { logger, unsavedChangesWarning: false });
client.onUpdate(anyApi.messages.list, { channel: "npm" }, (rows) => {
  const bodies = rows.map((row) => row.body);
  console.log(JSON.stringify({ update: bodies }));
  if (bodies.includes("done")) client.close().then(() => process.exit(0));
});
setTimeout(() => {
  console.log("TIMEOUT");
  process.exit(2);
}, 30_000);
