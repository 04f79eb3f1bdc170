// The JSON-RPC 2.0 error bodies the HTTP server answers with.

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
