/**
 * The status page's script (bundled for the browser from the SDK's browser
 * entry): services and their health, the caller's portfolio (an account is
 * opened if the key's owner has none), a button that runs a trading cycle,
 * and the live events of WatchEvents. The API key is kept in localStorage and
 * sent as `authorization: Bearer <key>` on every call, to this page's origin.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createMeridianClient, type MeridianClient } from "@meridian/sdk";
import { Gateway, type ServiceStatus, type WatchEventsResponse } from "@meridian/sdk/gateway";
import { Regime } from "@meridian/sdk/market";
import { RiskProfile, type Account, type PortfolioState } from "@meridian/sdk/portfolio";
import { OrderSide, OrderStatus } from "@meridian/sdk/trading";

const keyStorage = "meridian.apiKey";
/** What an account opened by the page starts with: $100,000.00. */
const initialCashMinor = 10_000_000n;

const $ = <E extends HTMLElement>(selector: string) => document.querySelector<E>(selector)!;

let apiKey = localStorage.getItem(keyStorage) ?? "";
let account: Account | undefined;
let watching: AbortController | undefined;

const withKey: Interceptor = (next) => (request) => {
  request.header.set("authorization", `Bearer ${apiKey}`);
  return next(request);
};

const client: MeridianClient<typeof Gateway> = createMeridianClient(Gateway, {
  baseUrl: location.origin,
  interceptors: [withKey],
  // One attempt: a failure shows at once; the page refreshes on its own.
  policy: { retry: false, timeoutMs: 30_000 },
});

function showError(error: unknown): void {
  const element = $("#error");
  if (error === undefined) {
    element.hidden = true;
    return;
  }
  const e = ConnectError.from(error);
  element.textContent = `${Code[e.code] ?? e.code}: ${e.rawMessage}`;
  element.hidden = false;
  if (e.code === Code.Unauthenticated) askForKey();
}

function askForKey(): void {
  document.body.dataset.state = "needs-key";
  $("#key-form").hidden = false;
  $("#forget-key").hidden = true;
  $<HTMLInputElement>("#api-key").focus();
}

/** Minor units as "$1,234.56" (integers only: no floating point on money). */
function money(minor: bigint, currency = "USD"): string {
  const negative = minor < 0n;
  const abs = negative ? -minor : minor;
  const units = (abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const cents = (abs % 100n).toString().padStart(2, "0");
  return `${negative ? "-" : ""}${currency === "USD" ? "$" : `${currency} `}${units}.${cents}`;
}

/** Micros of a unit as "$123.45" (rounded down to the cent, for display). */
function price(micros: bigint): string {
  return money(micros / 10_000n);
}

function cell(text: string, className = ""): HTMLTableCellElement {
  const td = document.createElement("td");
  td.textContent = text;
  if (className !== "") td.className = className;
  return td;
}

function renderServices(services: ReadonlyArray<ServiceStatus>, healthy: boolean): void {
  const body = $("#services tbody");
  body.replaceChildren(
    ...services.map((s) => {
      const row = document.createElement("tr");
      row.dataset.service = s.name;
      row.dataset.state = s.state;
      row.append(cell(s.name), cell(s.state, s.state), cell(s.version), cell(s.breaker || "—", s.breaker), cell(`${s.latencyMs} ms`, "num"), cell(s.detail));
      return row;
    }),
  );
  const overall = $("#overall");
  overall.textContent = healthy ? "all services serving" : "not all services serving";
  overall.className = `badge ${healthy ? "healthy" : "unhealthy"}`;
  document.body.dataset.healthy = String(healthy);
}

function renderPortfolio(state: PortfolioState): void {
  const currency = state.account?.currency ?? "USD";
  $("#account").textContent = `${state.account?.accountId ?? ""} (${RiskProfile[state.account?.riskProfile ?? 0]?.toLowerCase() ?? ""})`;
  const summary: Array<[string, string, string]> = [
    ["cash", "cash", money(state.cashMinor, currency)],
    ["positions", "positions value", money(state.positionsValueMinor, currency)],
    ["total", "total value", money(state.totalValueMinor, currency)],
    ["unrealized", "unrealised P&L", money(state.unrealizedPnlMinor, currency)],
    ["realized", "realised P&L", money(state.realizedPnlMinor, currency)],
    ["fills", "fills applied", state.fillsApplied.toString()],
    ["as-of", "valued as of", state.valuedAsOf],
  ];
  $("#summary").replaceChildren(
    ...summary.flatMap(([id, label, value]) => {
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.id = `summary-${id}`;
      dd.textContent = value;
      return [dt, dd];
    }),
  );
  $("#positions tbody").replaceChildren(
    ...state.positions.map((p) => {
      const row = document.createElement("tr");
      row.dataset.symbol = p.symbol;
      row.append(
        cell(p.symbol),
        cell(p.quantity.toString(), "num"),
        cell(price(p.lastPriceMicros), "num"),
        cell(money(p.marketValueMinor, currency), "num"),
        cell(money(p.unrealizedPnlMinor, currency), "num"),
        cell(`${(p.weight * 100).toFixed(1)}%`, "num"),
      );
      return row;
    }),
  );
  document.body.dataset.fills = state.fillsApplied.toString();
}

function describeEvent(event: WatchEventsResponse["event"]): { kind: string; text: string } {
  switch (event.case) {
    case "orderPlaced": {
      const o = event.value;
      return { kind: "order_placed", text: `${OrderSide[o.side]} ${o.quantity} ${o.symbol} (order ${o.orderId})` };
    }
    case "orderFilled": {
      const f = event.value;
      return { kind: "order_filled", text: `${OrderSide[f.side]} ${f.quantity} ${f.symbol} at ${price(f.priceMicros)} = ${money(f.grossAmountMinor, f.currency)}` };
    }
    case "regimeChanged": {
      const r = event.value;
      return { kind: "regime_changed", text: `${Regime[r.previous]} → ${Regime[r.current?.regime ?? 0]} (as of ${r.current?.asOf ?? "?"})` };
    }
    default:
      return { kind: "unknown", text: "an event this page does not know" };
  }
}

function addEvent(response: WatchEventsResponse): void {
  const { kind, text } = describeEvent(response.event);
  const item = document.createElement("li");
  item.dataset.kind = kind;
  item.dataset.eventId = response.eventId;
  const label = document.createElement("span");
  label.className = "kind";
  label.textContent = kind.replace("_", " ");
  const time = response.time === undefined ? "" : new Date(Number(response.time.seconds) * 1000).toLocaleTimeString();
  item.append(label, document.createTextNode(`${text} `), Object.assign(document.createElement("span"), { className: "muted", textContent: time }));
  $("#events").prepend(item);
  $("#events").dataset.count = String($("#events").children.length);
}

function setWatchState(state: string, text: string): void {
  document.body.dataset.watch = state;
  $("#watch-state").textContent = text;
}

/** Follows the account's events until the page goes or the key changes; reconnects after a failure. */
async function watch(accountId: string): Promise<void> {
  watching?.abort();
  const controller = new AbortController();
  watching = controller;
  while (!controller.signal.aborted) {
    setWatchState("connecting", "connecting…");
    try {
      for await (const response of client.watchEvents({ accountId }, { signal: controller.signal })) {
        // The first message says the stream follows every topic: from here on nothing is missed.
        if (response.event.case === "watching") {
          setWatchState("open", "watching: orders and fills of this account, every regime change");
          continue;
        }
        addEvent(response);
        if (response.event.case === "orderFilled") schedulePortfolioRefresh();
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      const e = ConnectError.from(error);
      if (e.code === Code.Unauthenticated || e.code === Code.PermissionDenied) return showError(e);
    }
    setWatchState("closed", "stream closed; reconnecting");
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

let refreshTimer: ReturnType<typeof setTimeout> | undefined;
function schedulePortfolioRefresh(): void {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => void refreshPortfolio(), 300);
}

async function refreshPortfolio(): Promise<void> {
  if (account === undefined) return;
  try {
    const { portfolio } = await client.getPortfolio({ accountId: account.accountId });
    if (portfolio !== undefined) renderPortfolio(portfolio);
  } catch (error) {
    showError(error);
  }
}

async function refreshStatus(): Promise<void> {
  if (apiKey === "") return;
  try {
    const { services, healthy } = await client.getSystemStatus({});
    renderServices(services, healthy);
  } catch (error) {
    showError(error);
  }
}

/** The owner's first account, opened on first use. */
async function ensureAccount(): Promise<Account> {
  const { accounts } = await client.listAccounts({});
  if (accounts[0] !== undefined) return accounts[0];
  const opened = await client.openAccount({
    initialCashMinor,
    currency: "USD",
    riskProfile: RiskProfile.BALANCED,
    idempotencyKey: "status-page-first-account",
  });
  if (opened.account === undefined) throw new Error("no account was opened");
  return opened.account;
}

async function runCycle(): Promise<void> {
  if (account === undefined) return;
  const button = $<HTMLButtonElement>("#run-cycle");
  button.disabled = true;
  $("#cycle-result").textContent = "running…";
  document.body.dataset.cycle = "running";
  try {
    const { regime, plan, orders } = await client.runTradingCycle({ accountId: account.accountId });
    const filled = orders.filter((o) => o.status === OrderStatus.FILLED).length;
    $("#cycle-result").textContent = `regime ${Regime[regime?.regime ?? 0]}, plan ${plan?.planId ?? "?"}: ${plan?.trades.length ?? 0} trades, ${orders.length} orders (${filled} filled)`;
    document.body.dataset.cycle = "done";
    document.body.dataset.orders = String(orders.length);
    showError(undefined);
    await refreshPortfolio();
  } catch (error) {
    document.body.dataset.cycle = "failed";
    $("#cycle-result").textContent = "failed";
    showError(error);
  } finally {
    button.disabled = false;
  }
}

async function start(): Promise<void> {
  if (apiKey === "") return askForKey();
  $("#key-form").hidden = true;
  $("#forget-key").hidden = false;
  document.body.dataset.state = "loading";
  await refreshStatus();
  try {
    account = await ensureAccount();
    showError(undefined);
  } catch (error) {
    return showError(error);
  }
  void watch(account.accountId);
  await refreshPortfolio();
  $<HTMLButtonElement>("#run-cycle").disabled = false;
  document.body.dataset.state = "ready";
}

$("#key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  apiKey = $<HTMLInputElement>("#api-key").value.trim();
  localStorage.setItem(keyStorage, apiKey);
  void start();
});
$("#forget-key").addEventListener("click", () => {
  localStorage.removeItem(keyStorage);
  apiKey = "";
  watching?.abort();
  askForKey();
});
$("#run-cycle").addEventListener("click", () => void runCycle());
setInterval(() => void refreshStatus(), 5000);
void start();
