/**
 * The universe service through the real `curl` binary: Connect's plain-HTTP
 * face (JSON POST, GET for NO_SIDE_EFFECTS methods) and the request id that
 * ties a response to its access-log line.
 */
import { expect, test } from "bun:test";
import { describeUniverse } from "./universe-process.js";

const service = "meridian.universe.v1.UniverseService";

interface CurlResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/** Runs curl with `args` and reads the final response (interim 1xx responses skipped). */
async function curl(...args: string[]): Promise<CurlResponse> {
  const proc = Bun.spawn(["curl", "-sS", "--max-time", "10", "-D", "-", ...args], { stdout: "pipe", stderr: "pipe" });
  const [text, errors, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (exitCode !== 0) throw new Error(`curl exited ${exitCode}: ${errors}`);
  let rest = text;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    const head = rest.slice(0, end);
    rest = rest.slice(end + 4);
    const [statusLine = "", ...fields] = head.split("\r\n");
    const status = Number(statusLine.split(" ")[1]);
    if (status >= 100 && status < 200) continue;
    const headers = new Headers();
    for (const field of fields) {
      const colon = field.indexOf(":");
      headers.append(field.slice(0, colon).trim(), field.slice(colon + 1).trim());
    }
    return { status, headers, body: rest };
  }
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describeUniverse("universe over curl", (universe) => {
  const url = (method: string) => `${universe().httpUrl}/${service}/${method}`;
  const getUrl = (method: string, message: unknown) =>
    `${url(method)}?encoding=json&message=${encodeURIComponent(JSON.stringify(message))}`;

  test("POST JSON answers JSON, with a fresh request id when none was sent", async () => {
    const response = await curl("-X", "POST", "-H", "content-type: application/json", "-d", '{"symbol":"MSFT"}', url("GetSecurity"));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("application/json");
    expect(JSON.parse(response.body)).toEqual({
      security: { symbol: "MSFT", name: "Microsoft Corp.", sector: "SECTOR_TECHNOLOGY", currency: "USD", active: true },
    });
    expect(response.headers.get("x-request-id")).toMatch(uuid);
  });

  test("GET with ?encoding=json&message= serves NO_SIDE_EFFECTS methods", async () => {
    const get = await curl(getUrl("GetSecurity", { symbol: "BRK.B" }));
    expect(get.status).toBe(200);
    expect(JSON.parse(get.body).security.name).toBe("Berkshire Hathaway Class B");

    const list = await curl(getUrl("ListSecurities", { sector: "SECTOR_ENERGY", page: { pageSize: 2 } }));
    expect(list.status).toBe(200);
    const page = JSON.parse(list.body) as { securities: Array<{ sector: string }>; page: { nextPageToken: string } };
    expect(page.securities).toHaveLength(2);
    expect(page.securities.every((s) => s.sector === "SECTOR_ENERGY")).toBe(true);
    expect(page.page.nextPageToken).not.toBe("");
  });

  test("GET is refused for a method with side effects", async () => {
    const response = await curl(getUrl("UpsertSecurity", { security: { symbol: "GETNOPE" } }));
    expect(response.status).toBe(405);
    const after = await curl(getUrl("GetSecurity", { symbol: "GETNOPE" }));
    expect(after.status).toBe(404);
  });

  test("x-request-id comes back and names the call's log line", async () => {
    const response = await curl(
      "-X", "POST", "-H", "content-type: application/json", "-H", "x-request-id: abc-123",
      "-d", '{"symbol":"NOVN"}', url("GetSecurity"),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toBe("abc-123");
    const line = await universe().waitForLog((l) => l.correlation_id === "abc-123");
    expect(line).toMatchObject({
      message: "rpc",
      method: `${service}/GetSecurity`,
      protocol: "connect",
      code: "ok",
      http_status: 200,
    });
    expect(line.duration_ms).toBeNumber();
    expect(line.duration_ms as number).toBeGreaterThan(0);
  });

  test("a failed call's log line carries its request id and code too", async () => {
    const response = await curl("-H", "x-request-id: abc-404", getUrl("GetSecurity", { symbol: "NOPE" }));
    expect(response.status).toBe(404);
    expect(response.headers.get("x-request-id")).toBe("abc-404");
    const line = await universe().waitForLog((l) => l.correlation_id === "abc-404");
    expect(line).toMatchObject({ method: `${service}/GetSecurity`, protocol: "connect", code: "not_found", http_status: 404 });
  });

  test("an x-request-id that is unsafe to log is replaced by a fresh one", async () => {
    const response = await curl("-H", 'x-request-id: evil", "level":"fatal', getUrl("GetSecurity", { symbol: "KO" }));
    expect(response.status).toBe(200);
    const id = response.headers.get("x-request-id") ?? "";
    expect(id).toMatch(uuid);
    expect((await universe().waitForLog((l) => l.correlation_id === id)).code).toBe("ok");
  });
});
