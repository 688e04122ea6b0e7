#!/usr/bin/env node
// An Estate plugin written in JavaScript, using nothing but Node.js core modules.
//
//   node plugin.js define [--plugin-dir DIR]      print what this plugin provides, exit
//   node plugin.js unpack DIR [--plugin-dir DIR]  copy this plugin's files into DIR, exit
//   node plugin.js serve --fd N [...]             speak the wire protocol on fd N
//
// The wire protocol (docs/protocol.md) is JSON-RPC 2.0, one JSON object per line, on
// a socket the host created and this process inherited as file descriptor N.
// stdout and stderr are not the channel: whatever is printed there lands in the log.
"use strict";

const fs = require("fs");
const net = require("net");
const path = require("path");
const readline = require("readline");

const VENDOR = "example";
const PROVIDER_TYPE = "nodejs";
const VERSION = "1.0.0";
const PROTOCOL_VERSIONS = [1];
const PROVIDER = {
  key: `${VENDOR}:${PROVIDER_TYPE}`,
  vendor: VENDOR,
  provider_type: PROVIDER_TYPE,
  display_name: "Example Node.js plugin",
  supported_resource_types: ["virtual_machine", "hypervisor_host"],
  class_name: "NodeProvider",
  class_path: "command",
};
const LEVELS = ["debug", "info", "warning", "error", "critical"];

// -- command line ------------------------------------------------------------------

function parseArgs(argv) {
  const [verb, ...rest] = argv;
  const options = { positional: [] };
  for (let i = 0; i < rest.length; i++) {
    if (rest[i].startsWith("--")) {
      options[rest[i].slice(2)] = rest[i + 1];
      i++;
    } else {
      options.positional.push(rest[i]);
    }
  }
  return { verb, options };
}

function define() {
  console.log(
    JSON.stringify({ ok: true, protocol_versions: PROTOCOL_VERSIONS, providers: [PROVIDER] }),
  );
  return 0;
}

function unpack(pluginDir, dest) {
  if (!dest) {
    console.log(JSON.stringify({ ok: false, error: "unpack needs a DIR" }));
    return 2;
  }
  const source = path.resolve(pluginDir);
  const target = path.resolve(dest);
  if (target === source || target.startsWith(source + path.sep)) {
    console.log(JSON.stringify({ ok: false, error: `${dest} is inside the plugin folder` }));
    return 1;
  }
  let files = 0;
  const copy = (from, to) => {
    fs.mkdirSync(to, { recursive: true });
    for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
      if (entry.name === "__pycache__") continue;
      const src = path.join(from, entry.name);
      const dst = path.join(to, entry.name);
      if (entry.isDirectory()) {
        copy(src, dst);
      } else {
        fs.copyFileSync(src, dst);
        files++;
      }
    }
  };
  try {
    copy(source, target);
  } catch (err) {
    console.log(JSON.stringify({ ok: false, error: String(err.message || err) }));
    return 1;
  }
  console.log(JSON.stringify({ ok: true, files }));
  return 0;
}

// -- the wire protocol -------------------------------------------------------------

class RpcError extends Error {
  constructor(code, message, kind) {
    super(message);
    this.code = code;
    this.kind = kind;
  }
}

class Server {
  constructor(socket, logLevel) {
    this.socket = socket;
    this.minLevel = Math.max(0, LEVELS.indexOf(logLevel));
    this.settings = null;
    this.current = null; // the id of the request being answered
    this.canceled = false;
  }

  begin(id) {
    this.current = id;
    this.canceled = false;
  }

  // "$/cancel" for the request in flight: it stops at its next check.
  cancel(id) {
    if (id !== undefined && id !== null && id === this.current) this.canceled = true;
  }

  // Lets the reader see a "$/cancel" that arrived, then stops if one did.
  async checkCanceled() {
    await new Promise((resolve) => setImmediate(resolve));
    if (this.canceled) throw new RpcError(-32800, "request canceled by the host", "canceled");
  }

  // Resolves once the socket took the line; waits for "drain" when its buffer is
  // full, so a collection never piles up in memory (the host's backpressure).
  send(message) {
    if (this.socket.write(JSON.stringify(message) + "\n")) return Promise.resolve();
    return new Promise((resolve) => this.socket.once("drain", resolve));
  }

  log(level, message) {
    if (LEVELS.indexOf(level) < this.minLevel) return Promise.resolve();
    const params = { level, logger: `${VENDOR}:${PROVIDER_TYPE}`, message, time: Date.now() / 1000 };
    return this.send({ jsonrpc: "2.0", method: "log", params });
  }

  async handle(method, params) {
    switch (method) {
      case "initialize":
        return this.initialize(params);
      case "configure":
        return this.configure(params);
      case "validate":
        return this.validate();
      case "health":
        return { status: "ok", time: Date.now() / 1000 };
      case "collect":
        return this.collect(params);
      default:
        throw new RpcError(-32601, `unknown method ${JSON.stringify(method)}`, "unsupported");
    }
  }

  initialize(params) {
    const offered = Array.isArray(params.protocol_versions) ? params.protocol_versions : [];
    const common = offered.filter((v) => PROTOCOL_VERSIONS.includes(v)).sort((a, b) => a - b);
    if (common.length === 0) {
      throw new RpcError(
        -32000,
        `protocol mismatch: host speaks ${pyList(offered)}, plugin speaks ${pyList(PROTOCOL_VERSIONS)}`,
        "protocol",
      );
    }
    return {
      protocol_version: common[common.length - 1],
      sdk_version: `plugin.js ${VERSION} (node ${process.version})`,
      plugin: { ...PROVIDER },
      capabilities: { collect: true, validate: true, health: true, cancel: true },
    };
  }

  async configure(params) {
    const provider = params.provider || {};
    const credential = params.credential || {};
    const extra = credential.extra || {};
    this.settings = {
      endpoint: credential.hostname || "",
      hosts: count(extra.hosts, 2, "hosts"),
      vmsPerHost: count(extra.vms_per_host, 3, "vms_per_host"),
    };
    await this.log("info", `configured provider ${JSON.stringify(provider.name || "")}`);
    return {};
  }

  configured() {
    if (this.settings === null) {
      throw new RpcError(-32002, "configure must come before this call", "protocol");
    }
    return this.settings;
  }

  validate() {
    const { hosts, vmsPerHost } = this.configured();
    return { ok: true, message: `${hosts} host(s) with ${vmsPerHost} VM(s) each` };
  }

  async collect(params) {
    const { hosts, vmsPerHost, endpoint } = this.configured();
    const size = Math.max(1, parseInt(params.batch_size, 10) || 1000);
    // Printed, not sent: it reaches the run's log through stdout, never the channel.
    console.log(`plugin.js: collecting ${hosts} host(s) x ${vmsPerHost} VM(s) from ${endpoint}`);
    await this.log("info", `collecting ${hosts * (vmsPerHost + 1)} resources`);
    let batch = [];
    let total = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const resources = batch;
      batch = [];
      await this.send({ jsonrpc: "2.0", method: "collect.batch", params: { resources } });
    };
    for (const resource of estate(hosts, vmsPerHost, endpoint)) {
      batch.push(resource);
      total++;
      if (batch.length >= size) {
        await flush();
        await this.checkCanceled();
      }
    }
    await flush();
    await this.log("debug", `collected ${total} resources`);
    return { count: total, rejected: [] };
  }
}

// The made-up estate: host-H, and vm-H-V running on it. Same settings, same bytes.
function* estate(hosts, vmsPerHost, endpoint) {
  for (let h = 0; h < hosts; h++) {
    yield {
      ems_ref: `host-${h}`,
      resource_type_slug: "hypervisor_host",
      name: `node-host-${h}`,
      state: "active",
      power_state: "on",
      cpu_count: 32,
      memory_mb: 262144,
      region: endpoint || "node-1",
      properties: { made_by: "plugin.js" },
    };
    for (let v = 0; v < vmsPerHost; v++) {
      const running = v % 3 !== 2;
      yield {
        ems_ref: `vm-${h}-${v}`,
        resource_type_slug: "virtual_machine",
        name: `node-vm-${h}-${v}`,
        state: running ? "running" : "stopped",
        power_state: running ? "poweredOn" : "poweredOff",
        cpu_count: 2,
        memory_mb: 4096,
        ip_addresses: [`10.${h % 256}.${Math.floor(v / 250)}.${(v % 250) + 2}`],
        relationships: [{ target_ems_ref: `host-${h}`, relationship_type: "runs_on" }],
      };
    }
  }
}

function count(value, fallback, name) {
  if (value === undefined || value === null || value === "") return fallback;
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new RpcError(-32000, `${name}: must be a non-negative integer`, "invalid_config");
  }
  return n;
}

function pyList(values) {
  return `[${values.map((v) => JSON.stringify(v)).join(", ")}]`;
}

function errorReply(id, code, message, kind) {
  return { jsonrpc: "2.0", id, error: { code, message, data: { kind } } };
}

async function serve(fd, logLevel) {
  const socket = new net.Socket({ fd, readable: true, writable: true });
  socket.on("error", () => process.exit(1)); // the host is gone: nothing left to do
  const server = new Server(socket, logLevel || "info");
  console.log(`plugin.js: serving on fd ${fd}`);
  const lines = readline.createInterface({ input: socket, crlfDelay: Infinity });
  // Lines are read as they come, so a "$/cancel" reaches the request in flight;
  // requests themselves are answered one at a time, in order.
  const inbox = [];
  let wake = null;
  let closed = false;
  const notify = () => {
    if (wake) wake();
    wake = null;
  };
  lines.on("line", (line) => {
    let message;
    try {
      message = JSON.parse(line);
    } catch (err) {
      message = { parseError: err.message };
    }
    if (message && message.method === "$/cancel") {
      server.cancel(message.params ? message.params.id : undefined);
      return;
    }
    inbox.push(message);
    notify();
  });
  lines.on("close", () => {
    closed = true;
    notify();
  });
  for (;;) {
    if (inbox.length === 0) {
      if (closed) break;
      await new Promise((resolve) => (wake = resolve));
      continue;
    }
    const message = inbox.shift();
    if (message && message.parseError !== undefined) {
      await server.send(errorReply(null, -32700, `parse error: ${message.parseError}`, "protocol"));
      continue;
    }
    const id = message && message.id !== undefined ? message.id : null;
    if (!message || typeof message.method !== "string") {
      await server.send(errorReply(id, -32600, "invalid request: no method", "protocol"));
      continue;
    }
    if (message.method === "shutdown") {
      await server.send({ jsonrpc: "2.0", id, result: {} });
      socket.end(() => process.exit(0));
      return;
    }
    server.begin(id);
    let reply;
    try {
      reply = { jsonrpc: "2.0", id, result: await server.handle(message.method, message.params || {}) };
    } catch (err) {
      reply = err instanceof RpcError
        ? errorReply(id, err.code, err.message, err.kind)
        : errorReply(id, -32000, `${err.name}: ${err.message}`, "internal");
    }
    server.begin(null);
    if (id !== null) await server.send(reply);
  }
  process.exit(0); // the host closed the channel
}

function main(argv) {
  const { verb, options } = parseArgs(argv);
  const pluginDir = options["plugin-dir"] || __dirname;
  switch (verb) {
    case "define":
      return process.exit(define());
    case "unpack":
      return process.exit(unpack(pluginDir, options.positional[0]));
    case "serve": {
      const fd = parseInt(options.fd, 10);
      if (!Number.isInteger(fd)) {
        console.error("serve needs --fd N");
        return process.exit(2);
      }
      return serve(fd, options["log-level"]);
    }
    default:
      console.error("usage: node plugin.js define|serve --fd N|unpack DIR [--plugin-dir DIR]");
      return process.exit(2);
  }
}

main(process.argv.slice(2));
