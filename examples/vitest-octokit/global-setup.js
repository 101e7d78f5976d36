// Starts one grantd for the test run: `grantd serve --ephemeral --test-controls` on a free
// loopback port, seeded with examples/test-seed.toml. Its address and control token are read
// from the lines it prints, and the run starts once GET /healthz answers. GRANTD_BIN names the
// binary (default: `grantd` on the PATH).

import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

const seed = fileURLToPath(new URL("../test-seed.toml", import.meta.url));

export default async function setup(project) {
  const server = spawn(
    process.env.GRANTD_BIN ?? "grantd",
    ["serve", "--ephemeral", "--test-controls", "--listen", "127.0.0.1:0", "--seed", seed],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const started = new Promise((resolve, reject) => {
    let token;
    // The token comes before the address; the seed's report before both.
    createInterface({ input: server.stdout }).on("line", (line) => {
      if (line.startsWith("grantd control token: ")) token = line.split(": ")[1].trim();
      const listening = line.match(/^grantd listening on (\S+)/);
      if (listening) resolve({ url: `http://${listening[1]}`, token });
    });
    server.once("error", reject);
    server.once("exit", (code) => reject(new Error(`grantd exited (${code}) before listening`)));
  });
  const { url, token } = await started;
  const deadline = Date.now() + 30_000;
  while (!(await fetch(`${url}/healthz`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline) throw new Error("grantd never became ready");
    await new Promise((r) => setTimeout(r, 10));
  }
  project.provide("grantd", { url, token });
  return async () => {
    server.kill("SIGTERM");
    await once(server, "exit");
  };
}
