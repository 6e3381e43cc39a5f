import { RequestError } from "../../protocol/errors.js";
import type { Handler } from "./caller.js";

/** `search`: messages the user may read that match `q`, newest first. */
export const search: Handler<"search"> = async () => {
  throw new RequestError("unavailable", "search is not available on this server yet");
};
