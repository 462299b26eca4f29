#!/usr/bin/env python3
"""Generate crates/registry/data/openapi-definitions.json.gz: the OpenAPI schemas of every built-in
Kubernetes v1.33 type, in upstream's form (`#/definitions/<name>` refs, v2 style).

Three inputs:

1. k8s-openapi 0.29's `src/v1_33` sources (already in the cargo registry): the `schemars`
   `JsonSchema` impls there carry upstream's descriptions, types, formats and `$ref`s. They are
   plain `json_schema!({...})` literals, so they are read as text; no build with schemars needed.
2. The v1.33 definitions shipped in the `kubernetes-validate` wheel (PyPI; derived from upstream's
   published `swagger.json`): they carry what k8s-openapi drops, the `x-kubernetes-*` extensions
   (group-version-kind, list-type, list-map-keys, map-type, patch-strategy, patch-merge-key,
   unions) and upstream's `required` lists. Only those keys are taken from it.
3. The `kubernetes-models` 4.5.1 npm package (TypeScript models of v1.33, generated from upstream's
   OpenAPI v3 documents): its `.d.ts` files keep what only the v3 documents carry, the `enum`
   values of enum-typed fields (as string-literal unions) and the "Possible enum values:" list
   upstream appends to those fields' descriptions. They are stored as `enum` and
   `x-rkube-enum-description`; the server adds both to /openapi/v3 and leaves both out of
   /openapi/v2, as upstream does.

Usage:
    pip download --no-deps -d /tmp/kv kubernetes-validate==1.37.0
    (cd /tmp/km && npm pack kubernetes-models@4.5.1)
    python3 tools/gen_openapi.py /tmp/kv/kubernetes_validate-1.37.0-py3-none-any.whl \
        /tmp/km/kubernetes-models-4.5.1.tgz

Upstream's shapes kept here: IntOrString is `{"type": "string", "format": "int-or-string"}` and
Quantity `{"type": "string"}` (what upstream's swagger.json says; k8s-openapi writes the CRD-style
`x-kubernetes-int-or-string` instead).
"""

import glob
import gzip
import json
import os
import re
import sys
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates/registry/data/openapi-definitions.json.gz")
KV_MEMBER = "kubernetes_validate/kubernetes-json-schema/v1.33.0-local/_definitions.json"

# Keys taken from upstream's definitions (via kubernetes-validate) at every level.
EXTENSION_KEYS = (
    "x-kubernetes-group-version-kind",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-patch-strategy",
    "x-kubernetes-patch-merge-key",
    "x-kubernetes-unions",
)


def k8s_openapi_dir():
    hits = glob.glob(os.path.expanduser("~/.cargo/registry/src/*/k8s-openapi-0.29.0/src/v1_33"))
    if not hits:
        sys.exit("k8s-openapi 0.29.0 is not in ~/.cargo/registry/src (run `cargo fetch` first)")
    return hits[0]


IMPL_RE = re.compile(
    r"impl crate::schemars::JsonSchema for (\w+) \{\s*fn schema_name\(\) -> std::borrow::Cow<'static, str> \{\s*"
    r'"([^"]+)"\.into\(\)\s*\}.*?crate::schemars::json_schema!\((\{.*?\n        \})\)\n    \}\n\}',
    re.S,
)
REF_WITH_DESCRIPTION_RE = re.compile(
    r"\(\{\s*let mut schema_obj = __gen\.subschema_for::<crate::([\w:]+)>\(\);\s*"
    r'schema_obj\.ensure_object\(\)\.insert\("description"\.into\(\), ("(?:[^"\\]|\\.)*")\.into\(\)\);\s*'
    r"schema_obj\s*\}\)",
    re.S,
)
REF_RE = re.compile(r"\(__gen\.subschema_for::<crate::([\w:]+)>\(\)\)|__gen\.subschema_for::<crate::([\w:]+)>\(\)")
TRAILING_COMMA_RE = re.compile(r",(\s*[}\]])")


def read_k8s_openapi():
    """name -> schema, with `$ref`s still naming Rust paths (`crate::` stripped)."""
    base = k8s_openapi_dir()
    rust_path_to_name = {}
    raw = {}
    for path in glob.glob(os.path.join(base, "**/*.rs"), recursive=True):
        text = open(path, encoding="utf-8").read()
        for m in IMPL_RE.finditer(text):
            ident, name, body = m.groups()
            module = os.path.relpath(os.path.dirname(path), base).replace(os.sep, "::")
            rust_path_to_name[f"{module}::{ident}"] = name
            raw[name] = body
    schemas = {}
    for name, body in raw.items():
        body = REF_WITH_DESCRIPTION_RE.sub(
            lambda m: '{"$ref": "%s", "description": %s}' % (m.group(1), m.group(2)), body
        )
        body = REF_RE.sub(lambda m: '{"$ref": "%s"}' % (m.group(1) or m.group(2)), body)
        body = TRAILING_COMMA_RE.sub(r"\1", body)
        try:
            schemas[name] = json.loads(body)
        except json.JSONDecodeError as e:
            sys.exit(f"cannot read the schema of {name}: {e}")

    def resolve(schema):
        """Rust paths to definition names, walking schemas (a property may be named `$ref`)."""
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = rust_path_to_name.get(ref)
            if target is None:
                sys.exit(f"unknown type in a $ref: {ref}")
            schema["$ref"] = "#/definitions/" + target
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                resolve(schema[key])
        for sub in schema.get("properties", {}).values():
            resolve(sub)

    for schema in schemas.values():
        resolve(schema)
    return schemas


def read_upstream(wheel):
    with zipfile.ZipFile(wheel) as z:
        return json.loads(z.read(KV_MEMBER))["$defs"]


def overlay(ours, theirs):
    """Copies upstream's extensions (and `required`) from `theirs` onto `ours`, recursively."""
    for key in EXTENSION_KEYS:
        if key in theirs:
            ours[key] = theirs[key]
    if "required" in theirs:
        ours["required"] = theirs["required"]
    elif "required" in ours and "properties" in ours:
        del ours["required"]
    for key in ("items", "additionalProperties"):
        if isinstance(ours.get(key), dict) and isinstance(theirs.get(key), dict):
            overlay(ours[key], theirs[key])
    mine, upstream = ours.get("properties", {}), theirs.get("properties", {})
    for field, schema in mine.items():
        if field in upstream:
            overlay(schema, upstream[field])


ENUM_DOC_KEY = "x-rkube-enum-description"
ENUM_DOC_START = "Possible enum values:"
INTERFACE_RE = re.compile(r"^export interface I\w+ \{\n(.*?)^\}", re.S | re.M)
EXPORT_RE = re.compile(r"^export \{ I\w+ as I(\w+),", re.M)
PROPERTY_RE = re.compile(r'(?:    /\*\*\n((?:     \*.*\n)*?)     \*/\n)?    "(\w+)"\??: (.*);\n')
LITERAL_UNION_RE = re.compile(r'^"[^"]*"(?: \| "[^"]*")*$')


def model_name(definition):
    """`io.k8s.api.core.v1.PodSpec` -> `IoK8sApiCoreV1PodSpec`, the name kubernetes-models uses."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[.-]", definition))


def read_enums(tgz):
    """model name -> field -> (enum values, is a list's items, "Possible enum values:" text), from
    the string-literal unions and doc comments of kubernetes-models' `.d.ts` files."""
    enums = {}
    with tarfile.open(tgz) as tar:
        for member in tar.getmembers():
            if not member.name.endswith(".d.ts") or "/_schemas/" in member.name:
                continue
            text = tar.extractfile(member).read().decode()
            exported, body = EXPORT_RE.search(text), INTERFACE_RE.search(text)
            if not exported or not body:
                continue
            fields = {}
            for m in PROPERTY_RE.finditer(body.group(1)):
                comment, field, ts_type = m.groups()
                items = ts_type.startswith("Array<") and ts_type.endswith(">")
                union = ts_type[len("Array<") : -1] if items else ts_type
                if field in ("apiVersion", "kind") or not LITERAL_UNION_RE.match(union):
                    continue
                values = [v.strip()[1:-1] for v in union.split(" | ")]
                lines = [line[len("     *") :] for line in (comment or "").splitlines()]
                lines = [line[1:] if line.startswith(" ") else line for line in lines]
                doc = None
                if ENUM_DOC_START in lines:
                    doc = "\n".join(lines[lines.index(ENUM_DOC_START) :])
                fields[field] = (values, items, doc)
            if fields:
                enums[exported.group(1)] = fields
    return enums


def add_enums(schemas, enums):
    """Upstream's v3 `enum` values (and their description text) onto our field schemas."""
    added = 0
    for name, schema in schemas.items():
        for field, (values, items, doc) in enums.get(model_name(name), {}).items():
            prop = schema.get("properties", {}).get(field)
            if prop is None:
                sys.exit(f"kubernetes-models has an enum field {name}.{field} that v1.33 lacks")
            target = prop.get("items") if items else prop
            if not isinstance(target, dict) or target.get("type") != "string":
                sys.exit(f"enum values for {name}.{field}, which is not a string field")
            target["enum"] = values
            if doc is not None:
                prop[ENUM_DOC_KEY] = doc
            added += 1
    return added


def from_upstream(schema):
    """An upstream definition as kubernetes-validate keeps it, back in swagger.json's form: its
    JSON-Schema conversion made types nullable (`["string", "null"]`), pinned `apiVersion`/`kind`
    with an `enum`, and moved refs to `#/$defs/`."""
    out = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, list):
            value = next(t for t in value if t != "null")
        elif key == "$ref":
            value = value.replace("#/$defs/", "#/definitions/")
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            value = from_upstream(value)
        elif key == "properties":
            value = {
                name: {k: v for k, v in from_upstream(sub).items() if not (name in ("apiVersion", "kind") and k == "enum")}
                for name, sub in value.items()
            }
        out[key] = value
    return out


def add_upstream_only(schemas, upstream):
    """The definitions k8s-openapi models generically (`List<T>`, `WatchEvent<T>`): every `XList` of
    a kind we have, and WatchEvent, taken from upstream."""
    for name, schema in upstream.items():
        if name.endswith("List") and name[: -len("List")] in schemas:
            schemas[name] = from_upstream(schema)
    name = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent"
    schemas[name] = from_upstream(upstream[name])


def upstream_shapes(schemas):
    """Upstream's swagger.json forms of the two int-or-string types."""
    ios = schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    ios.pop("x-kubernetes-int-or-string", None)
    ios.update({"type": "string", "format": "int-or-string"})
    quantity = schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    quantity.pop("x-kubernetes-int-or-string", None)
    quantity["type"] = "string"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    schemas = read_k8s_openapi()
    upstream = read_upstream(sys.argv[1])
    enums = read_enums(sys.argv[2])
    missing = 0
    for name, schema in schemas.items():
        if name in upstream:
            overlay(schema, upstream[name])
        else:
            missing += 1
            print(f"not in upstream's v1.33 definitions: {name}", file=sys.stderr)
    add_upstream_only(schemas, upstream)
    upstream_shapes(schemas)
    enum_fields = add_enums(schemas, enums)
    ordered = {name: schemas[name] for name in sorted(schemas)}
    data = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "wb") as f:
        # mtime=0: the same input gives the same bytes.
        f.write(gzip.compress(data, compresslevel=9, mtime=0))
    print(
        f"{len(ordered)} definitions ({missing} not upstream, {enum_fields} enum fields), "
        f"{len(data)} bytes of JSON, "
        f"{os.path.getsize(OUT)} gzipped -> {os.path.relpath(OUT, ROOT)}"
    )


if __name__ == "__main__":
    main()
