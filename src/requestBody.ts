// How much of a request body the server reads, and what it answers when a
// body is too large (413).
import type http from "node:http";

import { logError } from "./errors.js";
import { createJsonRpcErrorResponse } from "./jsonRpcErrors.js";

/** The default `maxBodySize`: 10 MiB. */
export const DEFAULT_MAX_BODY_SIZE = 10 * 1024 * 1024;

/** An upload over `maxBodySize` bytes. */
export class PayloadTooLargeError extends Error {
  constructor(readonly maxBodySize: number) {
    super(`Payload Too Large: request body exceeds ${maxBodySize} bytes`);
    this.name = "PayloadTooLargeError";
  }
}

/**
 * Whether the request says up front (`Content-Length`) that its body is over
 * `maxBodySize` bytes; 0 means no limit.
 */
export const exceedsMaxBodySize = (
  request: http.IncomingMessage,
  maxBodySize: number,
) => maxBodySize > 0 && Number(request.headers["content-length"]) > maxBodySize;

/**
 * Answers 413 and closes the connection: the rest of the upload is never
 * read. No authentication has run, so no challenge goes out.
 */
export const sendPayloadTooLarge = (
  res: http.ServerResponse,
  maxBodySize: number,
) => {
  res.setHeader("Connection", "close");
  res.setHeader("Content-Type", "application/json");
  res
    .writeHead(413)
    .end(
      createJsonRpcErrorResponse(
        -32600,
        new PayloadTooLargeError(maxBodySize).message,
      ),
    );
};

/**
 * Reads and parses a JSON body. A body that is not JSON gives `null` (the SDK
 * then answers with its parse error); an upload the client aborts rejects, so
 * the request never waits forever. Past `maxBodySize` bytes (0: no limit) it
 * stops reading, drops what it holds and rejects with a
 * `PayloadTooLargeError`.
 */
export const getBody = (request: http.IncomingMessage, maxBodySize: number) => {
  return new Promise<unknown>((resolve, reject) => {
    let bodyParts: Buffer[] = [];
    let size = 0;

    const onData = (chunk: Buffer) => {
      size += chunk.length;

      if (maxBodySize > 0 && size > maxBodySize) {
        bodyParts = [];
        request.off("data", onData);
        request.pause();
        reject(new PayloadTooLargeError(maxBodySize));
        return;
      }

      bodyParts.push(chunk);
    };

    request
      .on("data", onData)
      .on("end", () => {
        try {
          resolve(JSON.parse(Buffer.concat(bodyParts).toString()));
        } catch (error) {
          logError("[mcp-proxy] error parsing body", error);
          resolve(null);
        }
      })
      .on("error", reject)
      .on("close", () => {
        if (!request.complete) {
          reject(new Error("request aborted"));
        }
      });
  });
};

/** The most of its body a request that failed authentication makes us read. */
export const MAX_UNAUTHENTICATED_BODY_SIZE = 64 * 1024;

/**
 * The body of a request that failed authentication, read only for the
 * JSON-RPC id its 401 answers: at most 64 KiB (or `maxBodySize`, if less).
 * A longer body, or one cut short, gives null, and the connection closes
 * after the answer with the rest of the body unread.
 */
export const getUnauthenticatedBody = ({
  maxBodySize,
  req,
  res,
}: {
  maxBodySize: number;
  req: http.IncomingMessage;
  res: http.ServerResponse;
}) =>
  getBody(
    req,
    maxBodySize > 0
      ? Math.min(maxBodySize, MAX_UNAUTHENTICATED_BODY_SIZE)
      : MAX_UNAUTHENTICATED_BODY_SIZE,
  ).catch(() => {
    res.setHeader("Connection", "close");
    return null;
  });
