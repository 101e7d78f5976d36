// Every test starts from grantd's seed: no token, code or clock change leaks into the next.
import { beforeEach } from "vitest";

import { control } from "./grantd.js";

beforeEach(async () => {
  await control("POST", "/reset");
  await control("DELETE", "/requests");
});
