// Debian's Chromium, headless, as the browser tests launch it.
import { chromium } from "playwright-core";

import { CHROMIUM } from "./projects.js";

/**
 * Launches Debian's Chromium headless, with the background services that
 * would reach for the network off (this machine has none beyond loopback),
 * plus `args`.
 */
export const launchChromium = (args: string[] = []) =>
  chromium.launch({
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...args,
    ],
    executablePath: CHROMIUM,
  });
