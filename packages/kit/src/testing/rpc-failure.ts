/** The error an RPC failed with, as connect reports it. */
import { ConnectError } from "@connectrpc/connect";

/** The ConnectError `call` rejects with; throws when it succeeds. */
export async function rpcFailure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected the call to fail");
}
