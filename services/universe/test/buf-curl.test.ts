/**
 * The universe service through `buf curl`, reading the schema from proto/:
 * Connect and gRPC-Web on HTTP_PORT, gRPC (h2c, prior knowledge) on GRPC_PORT.
 */
import { join } from "node:path";
import { expect, test } from "bun:test";
import { describeUniverse, repoRoot } from "./universe-process.js";

const buf = join(repoRoot, "node_modules", ".bin", "buf");
const service = "meridian.universe.v1.UniverseService";

interface BufCurlResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function bufCurl(protocol: "connect" | "grpc" | "grpcweb", url: string, body: unknown): Promise<BufCurlResult> {
  const proc = Bun.spawn(
    [
      buf, "curl",
      "--schema", join(repoRoot, "proto"),
      "--protocol", protocol,
      ...(protocol === "grpc" ? ["--http2-prior-knowledge"] : []),
      "--timeout", "10s",
      "--data", JSON.stringify(body),
      url,
    ],
    { cwd: repoRoot, stdout: "pipe", stderr: "pipe" },
  );
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, stdout, stderr };
}

describeUniverse("universe through buf curl", (universe) => {
  const cases = [
    { protocol: "connect", base: () => universe().httpUrl },
    { protocol: "grpc", base: () => universe().grpcUrl },
    { protocol: "grpcweb", base: () => universe().httpUrl },
  ] as const;

  for (const { protocol, base } of cases) {
    test(`--protocol ${protocol}: GetSecurity answers the security`, async () => {
      const result = await bufCurl(protocol, `${base()}/${service}/GetSecurity`, { symbol: "SIE" });
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({
        security: { symbol: "SIE", name: "Siemens AG", sector: "SECTOR_INDUSTRIALS", currency: "EUR", active: true },
      });
    });

    test(`--protocol ${protocol}: an unknown symbol is not_found with the UnknownSymbol detail`, async () => {
      const result = await bufCurl(protocol, `${base()}/${service}/GetSecurity`, { symbol: "NOSUCH" });
      // buf curl exits with 8 × the code: not_found (5) → 40.
      expect(result.exitCode).toBe(40);
      const error = JSON.parse(result.stderr) as { code: string; details: Array<{ type: string }> };
      expect(error.code).toBe("not_found");
      expect(error.details.map((d) => d.type)).toContain("meridian.universe.v1.UnknownSymbol");
    });
  }

  test("--protocol grpc: an upsert with bad fields is invalid_argument", async () => {
    const result = await bufCurl("grpc", `${universe().grpcUrl}/${service}/UpsertSecurity`, {
      security: { symbol: "OK", name: "Fine", sector: "SECTOR_ENERGY", currency: "XXX" },
    });
    expect(result.exitCode).toBe(24); // invalid_argument (3) × 8
    expect(JSON.parse(result.stderr).code).toBe("invalid_argument");
  });
});
