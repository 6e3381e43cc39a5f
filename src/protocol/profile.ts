import { z } from "zod";

/**
 * How many colours an avatar may have: the web client's fixed palette
 * (web/src/avatar.ts), each with white initials at 4.5:1 or more. A person
 * picks one by its index; none picked means one derived from their uid.
 */
export const AVATAR_COLOURS = 8;

/**
 * A person's profile (docs/protocol.md#profiles): what the chat shows for an
 * account beside its messages, in the members list and in the header. `name`
 * is the account's own, unique name (sign-in, @mentions, direct messages);
 * `display` is what they chose to be shown as (their `name` when they chose
 * nothing); `colour` is their avatar's, or null for the one their uid gives.
 */
export const profileFields = {
  uid: z.string(),
  name: z.string(),
  display: z.string(),
  colour: z
    .number()
    .int()
    .min(0)
    .max(AVATAR_COLOURS - 1)
    .nullable(),
};

/** To `proto=2`: someone changed their profile; sent to the rooms they are in, to those they have a conversation with, and to their own connections. */
export const profileFrame = z.object({ action: z.literal("profile"), ...profileFields });
