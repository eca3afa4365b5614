// Crash-test load from the OFFICIAL npm client (tests/reliability/test_crash.py).
//
//   node crash_client.mjs URL WRITER CONCURRENCY
//
// Keeps CONCURRENCY `crash:write` mutations in flight through one ConvexClient
// (WebSocket), each with a unique token `${WRITER}-${n}`. The server is killed
// (SIGKILL) and restarted under it; the client reconnects by itself and
// re-sends every unconfirmed mutation with the same sessionId and requestId.
//
// Prints one line per event on stdout:
//   ack TOKEN            the mutation resolved (the server confirmed it)
//   err TOKEN MESSAGE    it was rejected
//   drop INFLIGHT        the WebSocket went down with INFLIGHT mutations unconfirmed
//                        (each of them is re-sent after the reconnect)
//   pending TOKEN        still unconfirmed when the client gave up waiting
//   done SENT            finished
// A line "stop" on stdin stops new mutations; it then waits (up to DRAIN_MS) for
// the ones in flight and exits.

import { ConvexClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import readline from "node:readline";

const [url, writer, concurrencyArg] = process.argv.slice(2);
const concurrency = Number(concurrencyArg || 4);
const DRAIN_MS = Number(process.env.DRAIN_MS || 45000);
if (!url || !writer) {
  console.error("usage: node crash_client.mjs URL WRITER [CONCURRENCY]");
  process.exit(2);
}

const write = makeFunctionReference("crash:write");
const quiet = { log() {}, warn() {}, error() {}, logVerbose() {} };
const client = new ConvexClient(url.replace(/\/+$/, ""), {
  logger: quiet,
  unsavedChangesWarning: false,
});

let stopping = false;
let sent = 0;
const inflight = new Set();

function out(line) {
  process.stdout.write(line + "\n");
}

async function one(token) {
  inflight.add(token);
  try {
    await client.mutation(write, { token, writer });
    out(`ack ${token}`);
  } catch (e) {
    out(`err ${token} ${String(e && e.message ? e.message : e).split("\n")[0]}`);
  } finally {
    inflight.delete(token);
  }
}

async function lane() {
  while (!stopping) {
    const token = `${writer}-${sent++}`;
    await one(token);
  }
}

// Count the mutations caught by each disconnect: those are the re-sent ones.
let connected = false;
const watcher = setInterval(() => {
  const state = client.connectionState();
  if (connected && !state.isWebSocketConnected) out(`drop ${state.inflightMutations}`);
  connected = state.isWebSocketConnected;
}, 5);

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "stop") stopping = true;
});

const lanes = Array.from({ length: concurrency }, lane);
const drained = Promise.all(lanes);
await new Promise((resolve) => {
  const check = setInterval(() => {
    if (stopping) {
      clearInterval(check);
      resolve();
    }
  }, 10);
});
await Promise.race([drained, new Promise((r) => setTimeout(r, DRAIN_MS))]);
for (const token of inflight) out(`pending ${token}`);
out(`done ${sent}`);
clearInterval(watcher);
await client.close();
process.exit(0);
