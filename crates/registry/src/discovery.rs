//! The discovery documents, built from the [catalog](crate::catalog) exactly as upstream v1.33
//! serves them.
//!
//! Clients learn what the server offers before anything else: kubectl 1.33 first asks `/api`
//! and `/apis` for the aggregated `apidiscovery.k8s.io/v2` lists, older clients walk `/api`,
//! `/apis`, `/apis/<group>` and every `/apis/<group>/<version>`. Short names, categories
//! (`kubectl get all`), scope and verbs in these answers drive kubectl's behaviour, so they are
//! rendered field for field (and key for key) as upstream writes them. The functions here are
//! pure; the API server only picks one and writes the JSON.

use serde_json::{Map, Value, json};

use crate::catalog::{self, GROUPS, GroupInfo, ResourceInfo, SubresourceInfo};

/// The group served under `/api` rather than `/apis/<group>`.
const CORE: &str = "";

/// The served version of the aggregated discovery API (`apidiscovery.k8s.io`). Both have the
/// same shape; clients name the one they understand in their `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregatedVersion {
    /// `apidiscovery.k8s.io/v2`, what kubectl 1.30+ asks for first.
    V2,
    /// `apidiscovery.k8s.io/v2beta1`, still offered to clients from 1.26-1.29.
    V2Beta1,
}

impl AggregatedVersion {
    /// The `apiVersion` of the list document.
    pub fn api_version(self) -> &'static str {
        match self {
            AggregatedVersion::V2 => "apidiscovery.k8s.io/v2",
            AggregatedVersion::V2Beta1 => "apidiscovery.k8s.io/v2beta1",
        }
    }

    /// The version named by the `v=` parameter of an aggregated-discovery media type.
    pub fn from_param(version: &str) -> Option<Self> {
        match version {
            "v2" => Some(AggregatedVersion::V2),
            "v2beta1" => Some(AggregatedVersion::V2Beta1),
            _ => None,
        }
    }

    /// Which aggregated document (if any) a request's `Accept` header asks for, honouring the
    /// client's order as upstream's negotiation does: the first JSON media range that is either
    /// `application/json;g=apidiscovery.k8s.io;v=v2|v2beta1;as=APIGroupDiscoveryList` (then
    /// `Some`) or plain JSON / a wildcard (then `None`: serve the legacy document). Protobuf
    /// ranges are skipped, since only JSON is served.
    ///
    /// kubectl 1.33 sends
    /// `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json`.
    pub fn from_accept(accept: &str) -> Option<Self> {
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media_type = parts.next().unwrap_or_default().to_ascii_lowercase();
            if !matches!(
                media_type.as_str(),
                "application/json" | "application/*" | "*/*"
            ) {
                continue;
            }
            let params: Vec<(&str, &str)> = parts
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.trim(), v.trim()))
                .collect();
            let param = |name: &str| {
                params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| *v)
            };
            match (param("g"), param("v"), param("as")) {
                (None, None, None) => return None,
                (Some("apidiscovery.k8s.io"), Some(v), Some("APIGroupDiscoveryList")) => {
                    if let Some(version) = Self::from_param(v) {
                        return Some(version);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

/// `/api`: the legacy group's versions (`APIVersions`). `server_address` is what clients
/// should dial (`host:port`); upstream lists it for every client network (`0.0.0.0/0`).
pub fn api_versions(server_address: &str) -> Value {
    let versions = catalog::group(CORE).map_or(&[][..], |g| g.versions);
    json!({
        "kind": "APIVersions",
        "versions": versions,
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

/// `/apis`: every named group with its versions and preferred version (`APIGroupList`), in
/// upstream's order (which clients keep when they pick among groups with the same resource).
pub fn api_group_list() -> Value {
    let groups: Vec<Value> = named_groups()
        .map(|g| Value::Object(group_body(g)))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`: one named group (`APIGroup`), or `None` for an unknown group (and for the
/// core group, which has no such path).
pub fn api_group(name: &str) -> Option<Value> {
    let group = named_groups().find(|g| g.name == name)?;
    let mut doc = Map::new();
    doc.insert("kind".into(), "APIGroup".into());
    doc.insert("apiVersion".into(), "v1".into());
    doc.extend(group_body(group));
    Some(Value::Object(doc))
}

/// `/api/v1` (group `""`) and `/apis/<group>/<version>`: the resources of one group version
/// with their subresources as `<resource>/<sub>` entries (`APIResourceList`), or `None` when
/// the group version is not served. Like upstream, the core list carries no `apiVersion`.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let info = catalog::group(group)?;
    if !info.versions.contains(&version) {
        return None;
    }
    let mut resources = Vec::new();
    for r in catalog::resources_of(group, version) {
        resources.push(resource_entry(r));
        resources.extend(r.subresources.iter().map(|s| subresource_entry(r, s)));
    }
    let mut doc = Map::new();
    doc.insert("kind".into(), "APIResourceList".into());
    if group != CORE {
        doc.insert("apiVersion".into(), "v1".into());
    }
    doc.insert("groupVersion".into(), group_version(group, version).into());
    doc.insert("resources".into(), resources.into());
    Some(Value::Object(doc))
}

/// `/api` with aggregated discovery: the core group as an `APIGroupDiscoveryList` of one item.
pub fn aggregated_core(version: AggregatedVersion) -> Value {
    let items: Vec<Value> = GROUPS
        .iter()
        .filter(|g| g.name == CORE)
        .map(aggregated_group)
        .collect();
    discovery_list(version, items)
}

/// `/apis` with aggregated discovery: every named group, with every version's resources, in
/// one `APIGroupDiscoveryList`, so a client needs one request instead of one per group version.
pub fn aggregated_apis(version: AggregatedVersion) -> Value {
    let items: Vec<Value> = named_groups().map(aggregated_group).collect();
    discovery_list(version, items)
}

/// The groups served under `/apis`.
fn named_groups() -> impl Iterator<Item = &'static GroupInfo> {
    GROUPS.iter().filter(|g| g.name != CORE)
}

/// `v1` for the core group, `<group>/<version>` otherwise.
fn group_version(group: &str, version: &str) -> String {
    if group == CORE {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// The fields of an `APIGroup` after its type meta: name, versions, preferred version.
fn group_body(group: &GroupInfo) -> Map<String, Value> {
    let version_ref = |v: &str| json!({"groupVersion": group_version(group.name, v), "version": v});
    let mut body = Map::new();
    body.insert("name".into(), group.name.into());
    body.insert(
        "versions".into(),
        group.versions.iter().map(|v| version_ref(v)).collect(),
    );
    body.insert("preferredVersion".into(), version_ref(group.preferred));
    body
}

/// One main resource of an `APIResourceList`; empty lists and hashes are left out, as
/// upstream's `omitempty` does.
fn resource_entry(r: &ResourceInfo) -> Value {
    let mut entry = Map::new();
    entry.insert("name".into(), r.plural.into());
    entry.insert("singularName".into(), r.singular.into());
    entry.insert("namespaced".into(), r.namespaced.into());
    entry.insert("kind".into(), r.kind.into());
    entry.insert("verbs".into(), r.verbs.into());
    insert_non_empty(&mut entry, "shortNames", r.short_names);
    insert_non_empty(&mut entry, "categories", r.categories);
    if !r.storage_version_hash.is_empty() {
        entry.insert("storageVersionHash".into(), r.storage_version_hash.into());
    }
    Value::Object(entry)
}

/// A subresource entry (`pods/status`): empty singular name, the parent's scope, and the
/// group and version of its kind when they differ from the parent's (`deployments/scale`).
fn subresource_entry(parent: &ResourceInfo, s: &SubresourceInfo) -> Value {
    let mut entry = Map::new();
    entry.insert(
        "name".into(),
        format!("{}/{}", parent.plural, s.name).into(),
    );
    entry.insert("singularName".into(), "".into());
    entry.insert("namespaced".into(), parent.namespaced.into());
    if !s.group.is_empty() {
        entry.insert("group".into(), s.group.into());
    }
    if !s.version.is_empty() {
        entry.insert("version".into(), s.version.into());
    }
    entry.insert("kind".into(), s.kind.into());
    entry.insert("verbs".into(), s.verbs.into());
    Value::Object(entry)
}

fn insert_non_empty(entry: &mut Map<String, Value>, key: &str, values: &[&str]) {
    if !values.is_empty() {
        entry.insert(key.into(), values.into());
    }
}

/// The `APIGroupDiscoveryList` around some groups.
fn discovery_list(version: AggregatedVersion, items: Vec<Value>) -> Value {
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": version.api_version(), "metadata": {}, "items": items})
}

/// One `APIGroupDiscovery`: the core group has no name; every version is `Current` since all
/// are served by this process.
fn aggregated_group(group: &GroupInfo) -> Value {
    let mut metadata = Map::new();
    if group.name != CORE {
        metadata.insert("name".into(), group.name.into());
    }
    metadata.insert("creationTimestamp".into(), Value::Null);
    let versions: Vec<Value> = group
        .versions
        .iter()
        .map(|v| {
            let resources: Vec<Value> = catalog::resources_of(group.name, v)
                .map(aggregated_resource)
                .collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": metadata, "versions": versions})
}

/// One `APIResourceDiscovery`, its subresources nested.
fn aggregated_resource(r: &ResourceInfo) -> Value {
    let mut entry = Map::new();
    entry.insert("resource".into(), r.plural.into());
    entry.insert("responseKind".into(), response_kind("", "", r.kind));
    let scope = if r.namespaced {
        "Namespaced"
    } else {
        "Cluster"
    };
    entry.insert("scope".into(), scope.into());
    entry.insert("singularResource".into(), r.singular.into());
    entry.insert("verbs".into(), r.verbs.into());
    insert_non_empty(&mut entry, "shortNames", r.short_names);
    insert_non_empty(&mut entry, "categories", r.categories);
    if !r.subresources.is_empty() {
        let subresources: Vec<Value> = r.subresources.iter().map(aggregated_subresource).collect();
        entry.insert("subresources".into(), subresources.into());
    }
    Value::Object(entry)
}

/// One `APISubresourceDiscovery`.
fn aggregated_subresource(s: &SubresourceInfo) -> Value {
    json!({"subresource": s.name, "responseKind": response_kind(s.group, s.version, s.kind), "verbs": s.verbs})
}

/// A `GroupVersionKind` as aggregated discovery writes it: empty group and version mean
/// "the same as the resource's".
fn response_kind(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "version": version, "kind": kind})
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    /// The recorded upstream v1.33 answers, kept as test data in the crate (a copy of the
    /// project's shared `golden/discovery` recordings).
    fn golden_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/golden/discovery")
    }

    /// A golden document, parsed keeping its key order. A missing file fails the test.
    fn golden(name: &str) -> Value {
        let path = golden_dir().join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "golden discovery file {} is unreadable: {e}",
                path.display()
            )
        });
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("golden discovery file {} is not JSON: {e}", path.display()))
    }

    /// Equal as JSON text, so key order counts too.
    fn assert_same(name: &str, generated: &Value, expected: &Value) {
        let (generated, expected) = (generated.to_string(), expected.to_string());
        if generated != expected {
            let at = generated
                .bytes()
                .zip(expected.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            let from = at.saturating_sub(120);
            panic!(
                "{name} differs from upstream at byte {at}\n  generated: ...{}\n  upstream:  ...{}",
                excerpt(&generated, from, at + 120),
                excerpt(&expected, from, at + 120)
            );
        }
    }

    /// The bytes `from..to` of a document (clamped; empty if they split a character).
    fn excerpt(text: &str, from: usize, to: usize) -> &str {
        text.get(from..to.min(text.len())).unwrap_or_default()
    }

    /// What each golden file should be generated by.
    fn generate(file: &str) -> Option<Value> {
        match file {
            "api.json" => Some(api_versions("192.0.2.2:6443")),
            "apis.json" => Some(api_group_list()),
            "aggregated_api.json" => Some(aggregated_core(AggregatedVersion::V2)),
            "aggregated_apis.json" => Some(aggregated_apis(AggregatedVersion::V2)),
            "api_v1.json" => resource_list("", "v1"),
            _ => GROUPS
                .iter()
                .flat_map(|g| g.versions.iter().map(move |v| (g.name, *v)))
                .find(|(g, v)| {
                    !g.is_empty() && file == format!("apis_{}_{v}.json", g.replace('.', "_"))
                })
                .and_then(|(g, v)| resource_list(g, v)),
        }
    }

    #[test]
    fn every_golden_discovery_document_is_reproduced() {
        let dir = golden_dir();
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
            panic!(
                "golden discovery directory {} is unreadable: {e}",
                dir.display()
            )
        });
        let mut files: Vec<String> = entries
            .map(|e| {
                e.expect("directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        files.sort();
        assert!(
            files.len() >= 5,
            "too few golden discovery files in {}: {files:?}",
            dir.display()
        );
        for file in &files {
            let generated =
                generate(file).unwrap_or_else(|| panic!("no generator for golden file {file}"));
            assert_same(file, &generated, &golden(file));
        }
    }

    #[test]
    fn every_served_group_version_has_a_golden_resource_list() {
        for g in GROUPS {
            for v in g.versions {
                let file = if g.name.is_empty() {
                    format!("api_{v}.json")
                } else {
                    format!("apis_{}_{v}.json", g.name.replace('.', "_"))
                };
                assert!(
                    golden_dir().join(&file).is_file(),
                    "{file} missing for {}/{v}",
                    g.name
                );
            }
        }
    }

    #[test]
    fn aggregated_v2beta1_differs_only_in_api_version() {
        for (beta, stable) in [
            (
                aggregated_core(AggregatedVersion::V2Beta1),
                aggregated_core(AggregatedVersion::V2),
            ),
            (
                aggregated_apis(AggregatedVersion::V2Beta1),
                aggregated_apis(AggregatedVersion::V2),
            ),
        ] {
            assert_eq!(beta["apiVersion"], "apidiscovery.k8s.io/v2beta1");
            let mut relabelled = beta.clone();
            relabelled["apiVersion"] = "apidiscovery.k8s.io/v2".into();
            assert_eq!(relabelled.to_string(), stable.to_string());
        }
    }

    #[test]
    fn api_group_documents() {
        let apps = api_group("apps").expect("apps is served");
        assert_eq!(
            apps.to_string(),
            r#"{"kind":"APIGroup","apiVersion":"v1","name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}"#
        );
        let autoscaling = api_group("autoscaling").unwrap();
        assert_eq!(autoscaling["versions"][0]["groupVersion"], "autoscaling/v2");
        assert_eq!(autoscaling["versions"][1]["groupVersion"], "autoscaling/v1");
        assert_eq!(autoscaling["preferredVersion"]["version"], "v2");
        assert!(api_group("apiregistration.k8s.io").is_some());
        assert_eq!(api_group(""), None, "the core group lives under /api");
        assert_eq!(api_group("example.com"), None);

        // Each group of /apis is the /apis/<group> document without its type meta.
        let list = api_group_list();
        for entry in list["groups"].as_array().unwrap() {
            let mut single = api_group(entry["name"].as_str().unwrap()).unwrap();
            let single = single.as_object_mut().unwrap();
            single.shift_remove("kind");
            single.shift_remove("apiVersion");
            assert_eq!(Value::Object(single.clone()).to_string(), entry.to_string());
        }
    }

    #[test]
    fn unknown_group_versions_have_no_resource_list() {
        assert_eq!(resource_list("", "v2"), None);
        assert_eq!(resource_list("apps", "v1beta1"), None);
        assert_eq!(resource_list("example.com", "v1"), None);
        assert!(resource_list("autoscaling", "v1").is_some());
    }

    #[test]
    fn api_versions_names_the_given_address() {
        let doc = api_versions("127.0.0.1:36443");
        assert_eq!(
            doc["serverAddressByClientCIDRs"][0]["serverAddress"],
            "127.0.0.1:36443"
        );
        assert_eq!(doc["versions"], json!(["v1"]));
    }

    #[test]
    fn negotiates_aggregated_discovery_from_accept() {
        let v2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
        let v2beta1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
        let cases = [
            (format!("{v2},{v2beta1},application/json"), Some(AggregatedVersion::V2)),
            (format!("application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,{v2beta1}"), Some(AggregatedVersion::V2Beta1)),
            ("application/json; g=apidiscovery.k8s.io; v=v2; as=APIGroupDiscoveryList".to_string(), Some(AggregatedVersion::V2)),
            (format!("application/json,{v2}"), None),
            ("application/json".to_string(), None),
            ("*/*".to_string(), None),
            (String::new(), None),
            ("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json".to_string(), None),
            ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscovery".to_string(), None),
        ];
        for (accept, expected) in cases {
            assert_eq!(
                AggregatedVersion::from_accept(&accept),
                expected,
                "Accept: {accept}"
            );
        }
    }
}
