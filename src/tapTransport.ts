import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type {
  JSONRPCMessage,
  MessageExtraInfo,
} from "@modelcontextprotocol/sdk/types.js";

export type TransportEvent =
  | { error: Error; type: "onerror" }
  | { extra?: MessageExtraInfo; message: JSONRPCMessage; type: "onmessage" }
  | { message: JSONRPCMessage; type: "send" }
  | { type: "close" }
  | { type: "onclose" }
  | { type: "start" };

/**
 * Reports every call into and out of `transport` to `eventHandler` before
 * passing it on. The transport is changed in place and returned; the
 * callbacks wrapped are the ones set at the time of the call (the SDK's
 * `Protocol.connect` chains onto whatever is set, so tapping before or after
 * connecting both work).
 */
export const tapTransport = (
  transport: Transport,
  eventHandler: (event: TransportEvent) => void,
): Transport => {
  const { close, onclose, onerror, onmessage, send, start } = transport;

  transport.close = async () => {
    eventHandler({ type: "close" });
    return close.call(transport);
  };

  transport.onclose = () => {
    eventHandler({ type: "onclose" });
    onclose?.call(transport);
  };

  transport.onerror = (error) => {
    eventHandler({ error, type: "onerror" });
    onerror?.call(transport, error);
  };

  transport.onmessage = (message, extra) => {
    // Leave `extra` out when absent, so events look exactly like upstream's.
    eventHandler(
      extra === undefined
        ? { message, type: "onmessage" }
        : { extra, message, type: "onmessage" },
    );
    onmessage?.call(transport, message, extra);
  };

  transport.send = async (message, options) => {
    eventHandler({ message, type: "send" });
    return send.call(transport, message, options);
  };

  transport.start = async () => {
    eventHandler({ type: "start" });
    return start.call(transport);
  };

  return transport;
};
