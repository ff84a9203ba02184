/**
 * The events the market service produces (proto/meridian/market/v1/events.proto), both
 * written through its outbox in the transaction of the change they describe.
 */
import { defineEvent } from "@meridian/kit/events";
import { BarsIngestedSchema, RegimeChangedSchema } from "@meridian/sdk/market";

/** A symbol's bars were inserted or replaced (IngestBars). */
export const BarsIngestedEvent = defineEvent("meridian.market.bars.ingested", BarsIngestedSchema);

/** The classified regime differs from the last one recorded. */
export const RegimeChangedEvent = defineEvent("meridian.market.regime.changed", RegimeChangedSchema);
