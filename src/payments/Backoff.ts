import { Schedule } from "effect"
import type { AppSettings } from "../config/AppConfig.ts"

/** Exponential from PAYMENT_RETRY_BASE, never longer than PAYMENT_RETRY_MAX between attempts, forever. */
export const backoff = (settings: Pick<AppSettings, "retryBase" | "retryMax">) =>
  Schedule.min([Schedule.exponential(settings.retryBase), Schedule.spaced(settings.retryMax)])
