// Reads {"schemas": {name: schema}, "instances": [{"schema": name, "instance": value}]} on stdin;
// compiles every schema with Ajv (JSON Schema 2020-12) in strict mode with ajv-formats, validates
// each instance, and prints {"refused": {name: error}, "results": [{"schema", "valid", "errors"}]}.
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { schemas, instances } = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const refused = {};
const validators = {};
for (const [name, schema] of Object.entries(schemas)) {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  try {
    validators[name] = ajv.compile(schema);
  } catch (error) {
    refused[name] = String(error.message || error);
  }
}
const results = instances.map(({ schema, instance }) => {
  const validate = validators[schema];
  if (!validate) return { schema, valid: false, errors: [`schema ${schema} did not compile`] };
  const valid = validate(instance);
  return { schema, valid, errors: (validate.errors || []).map((e) => `${e.instancePath || "/"} ${e.message}`) };
});
process.stdout.write(JSON.stringify({ refused, results }));
