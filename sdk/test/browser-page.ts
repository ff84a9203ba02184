/**
 * The page of the browser test, bundled from the SDK's browser entry: it calls
 * the universe service given in `?api=` with the Promise and the Effect
 * clients and writes what happened into the page, one element per check.
 */
import { Effect } from "effect";
import { createEffectClient, createMeridianClient, typedErrorOf } from "../src/index.js";
import { Universe } from "../src/universe/index.js";

const params = new URLSearchParams(location.search);
const baseUrl = params.get("api") ?? "";

function show(id: string, text: string): void {
  const element = document.createElement("p");
  element.id = id;
  element.textContent = text;
  document.body.append(element);
}

async function check(id: string, run: () => Promise<string>): Promise<void> {
  show(id, await run().catch((e: unknown) => `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`));
}

// Retries off: a refused call should show its first error, at once.
const client = createMeridianClient(Universe, { baseUrl, policy: { retry: false } });
const effectClient = createEffectClient(Universe, { baseUrl, policy: { retry: false } });

await check("found", async () => {
  const { security } = await client.getSecurity({ symbol: "AAPL" });
  return `${security?.symbol} ${security?.name}`;
});
await check("domain-error", async () => {
  try {
    await client.getSecurity({ symbol: "NOPE" });
    return "no error";
  } catch (cause) {
    const error = typedErrorOf(Universe, cause);
    return error._tag === "UnknownSymbol" ? `UnknownSymbol symbol=${error.symbol} code=${error.code}` : error._tag;
  }
});
await check("effect-domain-error", () =>
  Effect.runPromise(
    effectClient.getSecurity({ symbol: "ZZZ" }).pipe(
      Effect.map(() => "no error"),
      Effect.catchTag("UnknownSymbol", (error) => Effect.succeed(`caught UnknownSymbol ${error.symbol}`)),
      Effect.catch((error) => Effect.succeed(`other ${error._tag}`)),
    ),
  ),
);
await check("upsert", async () => {
  const { created } = await client.upsertSecurity({ security: { symbol: "MSFT", name: "Microsoft" } });
  return `created=${created}`;
});
document.body.dataset.done = "true";
