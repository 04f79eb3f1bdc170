// The JSON-RPC 2.0 error bodies the HTTP server answers with.
import type http from "node:http";

/**
 * The JSON-RPC id an error answers: a string or number id, else null
 * (JSON-RPC 2.0 §5). Any other "id" makes the request invalid, and echoing
 * it could take a stack overflow (a deeply nested array) to serialize.
 */
export const getRequestId = (body: unknown) => {
  const id = (body as { id?: unknown } | null)?.id;

  return typeof id === "string" || typeof id === "number" ? id : null;
};

export const createJsonRpcErrorResponse = (
  code: number,
  message: string,
  id: unknown = null,
) => {
  return JSON.stringify({
    error: { code, message },
    id,
    jsonrpc: "2.0",
  });
};

/**
 * Answers a request whose handling threw: a 500, or the end of an answer
 * already started. The request handler's promise is Node's to drop, so
 * should even this fail (a header Node rejects), the connection goes, never
 * the process.
 */
export const sendInternalServerError = ({
  res,
}: {
  res: http.ServerResponse;
}) => {
  try {
    if (res.headersSent) {
      res.end();
    } else if (!res.destroyed) {
      res.setHeader("Content-Type", "application/json");
      res
        .writeHead(500)
        .end(createJsonRpcErrorResponse(-32603, "Internal Server Error"));
    }
  } catch {
    res.destroy();
  }
};
