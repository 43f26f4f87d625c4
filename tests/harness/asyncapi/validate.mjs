// Parses an AsyncAPI document with the official parser and prints its diagnostics as JSON:
//   node validate.mjs <document>  ->  {"parsed": true|false, "diagnostics": [{severity, code, message, path}]}
// severity as the parser gives it: 0 error, 1 warning, 2 information, 3 hint. Exit code 0 unless it crashed.
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";

const [path] = process.argv.slice(2);
const source = await readFile(path, "utf8");
const { document, diagnostics } = await new Parser().parse(source, { source: path });
const out = diagnostics.map((d) => ({ severity: d.severity, code: String(d.code), message: d.message, path: d.path }));
process.stdout.write(JSON.stringify({ parsed: document !== undefined, diagnostics: out }) + "\n");
