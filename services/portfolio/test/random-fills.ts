/**
 * Many random but valid fills (never selling more than is held) and the books they must leave,
 * computed independently of the service: plain sums of what each fill moves.
 */
import { OrderSide, type OrderFilled } from "@meridian/sdk/trading";
import { orderFilled } from "./fills-fixture.js";

const symbols = ["AAA", "BBB", "CCC"];

/** `count` fills over `accounts`, the same for the same seed. */
export function randomFills(accounts: ReadonlyArray<string>, count: number, seed: number): OrderFilled[] {
  const random = mulberry32(seed);
  const held = new Map<string, bigint>();
  const fills: OrderFilled[] = [];
  for (let i = 0; i < count; i++) {
    const accountId = accounts[Math.floor(random() * accounts.length)]!;
    const symbol = symbols[Math.floor(random() * symbols.length)]!;
    const key = `${accountId}/${symbol}`;
    const have = held.get(key) ?? 0n;
    const sell = have > 0n && random() < 0.4;
    const quantity = sell ? 1n + BigInt(Math.floor(random() * Number(have))) : 1n + BigInt(Math.floor(random() * 20));
    held.set(key, sell ? have - quantity : have + quantity);
    // $10.000000 to $210.000000, any micro
    const priceMicros = 10_000_000n + BigInt(Math.floor(random() * 200_000_000));
    const feeMinor = BigInt(Math.floor(random() * 100));
    const filledAt = new Date(Date.UTC(2026, 9, 1) + i * 3_600_000);
    fills.push(orderFilled({ accountId, fillId: `load-${i}`, symbol, side: sell ? "sell" : "buy", quantity, priceMicros, feeMinor, filledAt }));
  }
  return fills;
}

/** Per account: cash, shares per symbol, and the number of fills. */
export function expectedBooks(
  fills: ReadonlyArray<OrderFilled>,
  initialCashMinor: bigint,
): Map<string, { cashMinor: bigint; quantities: Map<string, bigint>; fills: number }> {
  const books = new Map<string, { cashMinor: bigint; quantities: Map<string, bigint>; fills: number }>();
  for (const f of fills) {
    const book = books.get(f.accountId) ?? { cashMinor: initialCashMinor, quantities: new Map(), fills: 0 };
    const buy = f.side === OrderSide.BUY;
    book.cashMinor += buy ? -(f.grossAmountMinor + f.feeMinor) : f.grossAmountMinor - f.feeMinor;
    book.quantities.set(f.symbol, (book.quantities.get(f.symbol) ?? 0n) + (buy ? f.quantity : -f.quantity));
    book.fills += 1;
    books.set(f.accountId, book);
  }
  return books;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
