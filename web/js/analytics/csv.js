// CSV files the page saves: tables built here (quoted per RFC 4180, and a cell that a spreadsheet would run
// as a formula — starting with = + - @ — prefixed with a quote), and the server's `days` CSV, fetched with
// the Bearer token (the page authenticates with a header, so a plain link would be refused) and saved.
import { ApiError } from "../shared/api.js";

const FORMULA = /^[=+\-@]/;

/** One cell: a formula-looking text gets a leading quote; a comma, quote or line break gets it quoted. */
export function csvCell(value) {
  let text = value === null || value === undefined ? "" : String(value);
  if (typeof value === "string" && FORMULA.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** rows: arrays of cells, the header first → the file's text (CRLF line ends, as RFC 4180 has them). */
export function csvText(rows) {
  return rows.map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

export function saveText(text, filename) {
  saveBlob(new Blob([text], {type: "text/csv;charset=utf-8"}), filename);
}

function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** GET path with the token; saved under the server's filename (Content-Disposition), else `fallback`. */
export async function saveServerCsv(token, path, fallback) {
  let response;
  try {
    response = await fetch(path, {headers: {Authorization: `Bearer ${token}`, Accept: "text/csv"}, cache: "no-store"});
  } catch (exc) {
    throw new ApiError(0, "network", String(exc));
  }
  if (!response.ok) {
    const error = (await response.json().catch(() => null))?.error || {};
    throw new ApiError(response.status, error.code || "error", error.message);
  }
  const named = /filename="?([^";]+)"?/.exec(response.headers.get("Content-Disposition") || "");
  saveBlob(await response.blob(), named ? named[1] : fallback);
}
