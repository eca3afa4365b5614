// The chat page: the official Convex browser client (npm `convex`), loaded as an
// ES module that `reactor serve` serves from node_modules at /vendor/convex/.
// No build step: the package's ESM build only imports its own files.

const CONVEX_MODULE = "/vendor/convex/dist/esm/browser/index.js";
const NAME_KEY = "reactor-chat-name";
const HEARTBEAT_EVERY_MS = 1000; // the server forgets a typist 3 s after the last one

const $ = (selector) => document.querySelector(selector);

function showFatal(text) {
  $("#fatal-text").textContent = text;
  $("#fatal").hidden = false;
}

function showError(error) {
  // A ConvexError carries our {code, message} object as `data`.
  const message = error?.data?.message ?? error?.message ?? String(error);
  $("#error").textContent = message;
}

async function loadConvex() {
  try {
    return await import(CONVEX_MODULE);
  } catch (error) {
    let detail = `Could not load ${CONVEX_MODULE}: ${error}`;
    try {
      const response = await fetch(CONVEX_MODULE);
      if (!response.ok) detail = await response.text(); // the server says how to install it
    } catch {
      // keep the import error
    }
    showFatal(detail);
    throw error;
  }
}

function askName() {
  const fromUrl = new URLSearchParams(location.search).get("name");
  const known = (fromUrl ?? localStorage.getItem(NAME_KEY) ?? "").trim();
  if (known) return Promise.resolve(known.slice(0, 32));
  return new Promise((resolve) => {
    $("#join").hidden = false;
    const form = $("#join-form");
    form.username.focus();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const name = form.username.value.trim();
      if (!name) return;
      localStorage.setItem(NAME_KEY, name);
      $("#join").hidden = true;
      resolve(name.slice(0, 32));
    });
  });
}

function formatTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function typingText(names) {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length <= 3) {
    return `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing…`;
  }
  return "Several people are typing…";
}

async function main() {
  const { ConvexClient } = await loadConvex();
  const me = await askName();
  $("#me").textContent = me;

  // The page is served by the deployment itself, so its origin is the deployment URL.
  const client = new ConvexClient(location.origin, { unsavedChangesWarning: false });
  client.subscribeToConnectionState((state) => {
    document.body.dataset.connected = String(state.isWebSocketConnected);
  });

  let channels = [];
  let current = null; // the selected channel document
  let unsubscribe = [];
  let lastHeartbeat = 0;
  let creating = null;

  function wantedChannel() {
    // channels:create lower-cases names, so look for the name it would store
    return decodeURIComponent(location.hash.slice(1)).trim().toLowerCase() || "general";
  }

  function renderChannels() {
    const list = $("#channels");
    list.replaceChildren(
      ...channels.map((channel) => {
        const item = document.createElement("li");
        const link = document.createElement("a");
        link.href = `#${encodeURIComponent(channel.name)}`;
        link.textContent = `# ${channel.name}`;
        link.dataset.channel = channel.name;
        link.classList.toggle("active", channel._id === current?._id);
        item.append(link);
        return item;
      }),
    );
  }

  function renderMessages(messages) {
    const list = $("#messages");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    if (messages.length === 0) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = "No messages yet. Say hello!";
      list.replaceChildren(empty);
    } else {
      list.replaceChildren(
        ...messages.map((message) => {
          const item = document.createElement("li");
          item.className = "message";
          item.classList.toggle("mine", message.author === me);
          item.dataset.id = message._id;
          const author = document.createElement("span");
          author.className = "author";
          author.textContent = message.author;
          const time = document.createElement("time");
          time.dateTime = new Date(message._creationTime).toISOString();
          time.textContent = formatTime(message._creationTime);
          const body = document.createElement("p");
          body.className = "body";
          body.textContent = message.body;
          item.append(author, time, body);
          return item;
        }),
      );
    }
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function select(channel) {
    if (current?._id === channel._id) return;
    for (const stop of unsubscribe) stop();
    current = channel;
    lastHeartbeat = 0;
    $("#channel-title").textContent = `# ${channel.name}`;
    $("#message-input").placeholder = `Message #${channel.name}`;
    $("#messages").replaceChildren();
    $("#typing").textContent = "";
    $("#error").textContent = "";
    delete document.body.dataset.channel;
    renderChannels();
    const args = { channel: channel._id };
    unsubscribe = [
      client.onUpdate(
        "messages:list",
        args,
        (messages) => {
          renderMessages(messages);
          document.body.dataset.channel = channel.name; // loaded: tests wait for this
        },
        showError,
      ),
      client.onUpdate(
        "presence:typing",
        args,
        (typists) => {
          const others = typists.map((t) => t.user).filter((user) => user !== me);
          $("#typing").textContent = typingText(others);
        },
        showError,
      ),
    ];
  }

  async function selectWanted() {
    const name = wantedChannel();
    const found = channels.find((channel) => channel.name === name);
    if (found) {
      select(found);
      return;
    }
    if (creating === name) return; // its creation will show up in channels:list
    creating = name;
    try {
      await client.mutation("channels:create", { name }); // returns the one that exists
    } catch (error) {
      creating = null;
      showError(error);
      if (name !== "general") location.hash = "general";
    }
  }

  client.onUpdate(
    "channels:list",
    {},
    (result) => {
      channels = result;
      renderChannels();
      selectWanted();
    },
    showError,
  );
  window.addEventListener("hashchange", selectWanted);

  $("#new-channel").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = event.target.channel;
    const name = input.value.trim().toLowerCase();
    if (!name) return;
    try {
      await client.mutation("channels:create", { name });
      input.value = "";
      location.hash = encodeURIComponent(name);
    } catch (error) {
      showError(error);
    }
  });

  const input = $("#message-input");
  input.addEventListener("input", () => {
    const now = Date.now();
    if (!current || !input.value.trim() || now - lastHeartbeat < HEARTBEAT_EVERY_MS) return;
    lastHeartbeat = now;
    client.mutation("presence:heartbeat", { channel: current._id, user: me }).catch(showError);
  });

  $("#composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = input.value.trim();
    if (!current || !body) return;
    input.value = "";
    lastHeartbeat = 0;
    $("#error").textContent = "";
    try {
      await client.mutation("messages:send", { channel: current._id, author: me, body });
    } catch (error) {
      input.value = body; // give the text back
      showError(error);
    }
  });

  input.focus();
}

main().catch((error) => {
  console.error(error);
  if ($("#fatal").hidden) showFatal(String(error?.stack ?? error));
});
