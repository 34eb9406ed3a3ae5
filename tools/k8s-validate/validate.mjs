// Offline checks of Granary's deployment files, run by tests/Granary.Server.Tests/Deployment (needs `npm ci` here).
//
//   node validate.mjs values SCHEMA.json VALUES.yaml [OVERRIDE.yaml]
//       Validates VALUES.yaml (merged with OVERRIDE.yaml the way Helm merges -f files) against the chart's JSON schema.
//   node validate.mjs manifests PATH...
//       PATH is a kustomization folder (its `resources`, recursively) or a YAML file or stream (`---`).
//       Validates every object against the Kubernetes OpenAPI schemas (kubernetes-models; prometheus-operator's for
//       ServiceMonitor) and prints what the tests compare: each object's kind, name, ports and probes.
//
// Prints one JSON object; exit code 0 when everything is valid, 1 when something is not, 2 on bad usage.
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import Ajv from "ajv";

const [command, ...args] = process.argv.slice(2);

function readYamlDocuments(file) {
  return YAML.parseAllDocuments(fs.readFileSync(file, "utf8")).map((doc) => {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
    return doc.toJS();
  }).filter((obj) => obj != null);
}

function merge(base, override) {
  const out = { ...base };
  for (const [key, value] of Object.entries(override ?? {})) {
    out[key] = value && typeof value === "object" && !Array.isArray(value) && out[key] && typeof out[key] === "object" && !Array.isArray(out[key])
      ? merge(out[key], value) : value;
  }
  return out;
}

function checkValues([schemaFile, valuesFile, overrideFile]) {
  const schema = JSON.parse(fs.readFileSync(schemaFile, "utf8"));
  let values = readYamlDocuments(valuesFile)[0] ?? {};
  if (overrideFile) values = merge(values, readYamlDocuments(overrideFile)[0] ?? {});
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  const valid = validate(values);
  return { valid, errors: (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`) };
}

/**
 * Files a kustomization folder stands for; only `resources` is understood (anything else would be silently skipped).
 * Like kustomize, a folder that contains one already visited is refused (an overlay inside its base's folder).
 */
function kustomizationFiles(dir, visited = []) {
  const root = path.resolve(dir);
  const cycle = visited.find((v) => v === root || v.startsWith(root + path.sep));
  if (cycle) throw new Error(`${dir}: kustomize refuses it, it contains the already visited ${cycle}`);
  visited = [...visited, root];
  const kustomization = readYamlDocuments(path.join(dir, "kustomization.yaml"))[0];
  const known = new Set(["apiVersion", "kind", "resources"]);
  const unknown = Object.keys(kustomization).filter((key) => !known.has(key));
  if (unknown.length) throw new Error(`${dir}/kustomization.yaml: fields this checker cannot apply: ${unknown.join(", ")}`);
  return kustomization.resources.flatMap((resource) => {
    const target = path.join(dir, resource);
    if (!fs.existsSync(target)) throw new Error(`${dir}/kustomization.yaml: resource ${resource} does not exist`);
    return fs.statSync(target).isDirectory() ? kustomizationFiles(target, visited) : [target];
  });
}

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const module = group === "monitoring.coreos.com"
    ? `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`
    : `kubernetes-models/${group ? `${group}/` : ""}${version}/${kind}`;
  try {
    return (await import(module))[kind];
  } catch {
    throw new Error(`no schema for ${apiVersion} ${kind}`);
  }
}

function summarize(obj) {
  const podSpec = obj.spec?.template?.spec;
  const containers = podSpec?.containers ?? [];
  const ports = obj.kind === "Service"
    ? (obj.spec.ports ?? []).map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort }))
    : containers.flatMap((c) => (c.ports ?? []).map((p) => ({ container: c.name, name: p.name, port: p.containerPort })));
  const probes = containers.flatMap((c) => ["livenessProbe", "readinessProbe", "startupProbe"]
    .filter((p) => c[p]).map((p) => ({ container: c.name, probe: p, path: c[p].httpGet?.path ?? null, port: c[p].httpGet?.port ?? c[p].tcpSocket?.port ?? null })));
  return { kind: obj.kind, apiVersion: obj.apiVersion, name: obj.metadata?.name, ports, probes };
}

async function checkManifests(paths) {
  const files = paths.flatMap((p) => fs.statSync(p).isDirectory() ? kustomizationFiles(p) : [p]);
  const objects = [];
  const errors = [];
  for (const file of files) {
    for (const obj of readYamlDocuments(file)) {
      const where = `${file}: ${obj.kind ?? "?"} ${obj.metadata?.name ?? "?"}`;
      try {
        const Model = await modelFor(obj.apiVersion, obj.kind);
        new Model(obj).validate();
        if (obj.kind === "ConfigMap") for (const [key, value] of Object.entries(obj.data ?? {})) if (key.endsWith(".json")) JSON.parse(value);
      } catch (e) {
        errors.push(`${where}: ${e.message}`);
      }
      objects.push({ file, ...summarize(obj) });
    }
  }
  return { valid: errors.length === 0, errors, objects };
}

let result;
try {
  if (command === "values" && args.length >= 2) result = checkValues(args);
  else if (command === "manifests" && args.length >= 1) result = await checkManifests(args);
  else {
    console.error("usage: node validate.mjs values SCHEMA VALUES [OVERRIDE] | manifests PATH...");
    process.exit(2);
  }
} catch (e) {
  result = { valid: false, errors: [e.message] };
}
console.log(JSON.stringify(result, null, 2));
process.exit(result.valid ? 0 : 1);
