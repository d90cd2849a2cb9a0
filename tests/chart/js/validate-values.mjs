// values.schema.json checked with a second validator, ajv (JSON Schema
// draft-07, strict mode). The renderer validates with gojsonschema, as Helm 3
// up to 3.17 does; newer Helm uses another library. Both must agree.
//
//   node validate-values.mjs SCHEMA VALUES_JSON
//       exit 0 when valid, else exit 1 and one "- path: message" per problem
//       (usable as the renderer's -schema-validator);
//   node validate-values.mjs --agree SCHEMA valid:FILE... invalid:FILE...
//       one "PASS ..." / "FAIL ..." line per file: is ajv's verdict the
//       expected one? Also checks that the schema compiles in ajv's strict
//       mode (an unknown keyword, i.e. a typo in the schema, fails).
import fs from "node:fs";
import path from "node:path";
import Ajv from "ajv";

const agree = process.argv[2] === "--agree";
const [schemaFile, ...rest] = process.argv.slice(agree ? 3 : 2);
const schema = JSON.parse(fs.readFileSync(schemaFile, "utf8"));

function problems(validate) {
  const out = [];
  for (const e of validate.errors) {
    const where = e.instancePath.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~")).join(".") || "(root)";
    let msg = e.message;
    if (e.keyword === "enum") msg += ": " + e.params.allowedValues.map((v) => JSON.stringify(v)).join(", ");
    if (e.keyword === "additionalProperties") msg = `unknown key ${JSON.stringify(e.params.additionalProperty)}`;
    if (e.keyword === "const") msg += ": " + JSON.stringify(e.params.allowedValue);
    const line = `- ${where}: ${msg}`;
    if (!out.includes(line)) out.push(line);
  }
  return out;
}

let validate;
try {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, strictRequired: false });
  validate = ajv.compile(schema);
  if (agree) console.log(`PASS values.schema.json compiles in ajv strict mode (draft-07)`);
} catch (e) {
  console.log(`FAIL values.schema.json compiles in ajv strict mode (draft-07): ${e.message}`);
  process.exit(1);
}

if (!agree) {
  const values = JSON.parse(fs.readFileSync(rest[0], "utf8"));
  if (validate(values)) process.exit(0);
  console.log(problems(validate).join("\n"));
  process.exit(1);
}

let failed = 0;
for (const arg of rest) {
  const [want, file] = arg.split(/:(.*)/s);
  const name = path.basename(file).replace(/\.values\.json$/, "");
  const ok = validate(JSON.parse(fs.readFileSync(file, "utf8")));
  const verdict = ok ? "valid" : "invalid";
  if (verdict === want) {
    console.log(`PASS ajv agrees: ${name} values are ${want}`);
  } else {
    failed++;
    console.log(`FAIL ajv agrees: ${name} values are ${want}: ajv says ${verdict}${ok ? "" : "\n    " + problems(validate).join("\n    ")}`);
  }
}
process.exit(failed ? 1 : 0);
