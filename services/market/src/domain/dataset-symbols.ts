/**
 * The securities the shipped dataset has bars for: the universe service's seeded securities
 * (services/universe/migrations/0002_seed_securities.sql), with their sectors, which drive the
 * sector factors. A test checks the two lists against a running universe.
 */
import { Sector } from "@meridian/sdk/universe";

/** A dataset security: its symbol and sector. */
export interface DatasetSecurity {
  readonly symbol: string;
  readonly sector: Sector;
}

const bySector: ReadonlyArray<readonly [Sector, ReadonlyArray<string>]> = [
  [Sector.TECHNOLOGY, ["AAPL", "MSFT", "NVDA", "ORCL", "SAP"]],
  [Sector.HEALTH_CARE, ["JNJ", "PFE", "UNH", "NOVN"]],
  [Sector.FINANCIALS, ["JPM", "BAC", "GS", "HSBA", "BRK.B"]],
  [Sector.CONSUMER_DISCRETIONARY, ["AMZN", "TSLA", "HD", "MC"]],
  [Sector.CONSUMER_STAPLES, ["PG", "KO", "WMT", "NESN"]],
  [Sector.ENERGY, ["XOM", "CVX", "SHEL"]],
  [Sector.INDUSTRIALS, ["CAT", "BA", "GE", "SIE"]],
  [Sector.MATERIALS, ["LIN", "NEM", "BHP"]],
  [Sector.UTILITIES, ["NEE", "DUK", "SO"]],
  [Sector.REAL_ESTATE, ["PLD", "AMT", "SPG"]],
  [Sector.COMMUNICATION_SERVICES, ["GOOGL", "META", "DIS", "VZ"]],
];

/** The 42 securities, grouped by sector. */
export const datasetSecurities: ReadonlyArray<DatasetSecurity> = bySector.flatMap(([sector, symbols]) =>
  symbols.map((symbol) => ({ symbol, sector })),
);
