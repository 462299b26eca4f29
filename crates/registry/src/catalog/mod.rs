//! The catalog of built-in resources, as upstream v1.33's discovery describes them.

mod table;

pub use table::{GROUPS, RESOURCES};

/// An API group and the versions served for it.
#[derive(Debug)]
pub struct GroupInfo {
    /// The group name; empty for the core ("legacy") group served under `/api`.
    pub name: &'static str,
    /// Served versions, in upstream's order (preferred first).
    pub versions: &'static [&'static str],
    pub preferred: &'static str,
}

/// A subresource (`pods/status`, `deployments/scale`).
#[derive(Debug)]
pub struct SubresourceInfo {
    pub name: &'static str,
    /// Group and version of the subresource's kind when it differs from the parent's (scale:
    /// `autoscaling/v1`); empty otherwise.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

/// A served resource in one group version.
#[derive(Debug)]
pub struct ResourceInfo {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub verbs: &'static [&'static str],
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub storage_version_hash: &'static str,
    pub subresources: &'static [SubresourceInfo],
}

impl ResourceInfo {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether the resource allows `verb` (`get`, `list`, `watch`, `create`, ...).
    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    pub fn subresource(&self, name: &str) -> Option<&'static SubresourceInfo> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// Whether writes to the main resource ignore `status` (it has a `status` subresource).
    pub fn has_status_subresource(&self) -> bool {
        self.subresources.iter().any(|s| s.name == "status")
    }

    /// Whether objects of this resource are stored (as opposed to virtual, create-only
    /// resources like `tokenreviews` or `bindings`).
    pub fn is_stored(&self) -> bool {
        self.has_verb("get") && self.plural != "componentstatuses"
    }

    /// The store key prefix of the resource, like upstream's etcd layout:
    /// `/registry/<resource>/` for core and most groups.
    pub fn storage_prefix(&self) -> String {
        format!("/registry/{}/", storage_resource(self))
    }

    /// The key of one object.
    pub fn storage_key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{}/{}", self.storage_prefix(), ns, name),
            _ => format!("{}{}", self.storage_prefix(), name),
        }
    }
}

/// The resource name under `/registry/`. Versions of one group share storage
/// (autoscaling v1 and v2); upstream's few special names are kept (`services/specs`,
/// `minions` for nodes) so the layout stays recognisable in an etcd backup.
fn storage_resource(info: &ResourceInfo) -> String {
    match (info.group, info.plural) {
        ("", "services") => "services/specs".into(),
        ("", "nodes") => "minions".into(),
        ("", "endpoints") => "services/endpoints".into(),
        ("", pl) => pl.into(),
        // events.k8s.io Events are core Events under other field names (see `conversion`).
        ("events.k8s.io", "events") => "events".into(),
        ("apps" | "batch" | "autoscaling" | "policy" | "extensions", pl) => pl.into(),
        (g, pl) => format!("{g}/{pl}"),
    }
}

/// Find a resource by group, version and plural name.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Find a resource by group, version and kind.
pub fn find_kind(group: &str, version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// The resources served in one group version, in discovery order.
pub fn resources_of(group: &str, version: &str) -> impl Iterator<Item = &'static ResourceInfo> {
    let (g, v) = (group.to_string(), version.to_string());
    RESOURCES
        .iter()
        .filter(move |r| r.group == g && r.version == v)
}

pub fn group(name: &str) -> Option<&'static GroupInfo> {
    GROUPS.iter().find(|g| g.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_upstream_facts() {
        let pods = find("", "v1", "pods").unwrap();
        assert_eq!(pods.kind, "Pod");
        assert!(pods.namespaced);
        assert_eq!(pods.short_names, &["po"]);
        assert!(pods.categories.contains(&"all"));
        assert!(pods.subresource("binding").is_some());
        let deploy = find_kind("apps", "v1", "Deployment").unwrap();
        assert_eq!(deploy.subresource("scale").unwrap().group, "autoscaling");
        assert_eq!(
            deploy.storage_key(Some("default"), "web"),
            "/registry/deployments/default/web"
        );
        assert_eq!(
            find("", "v1", "nodes").unwrap().storage_key(None, "n1"),
            "/registry/minions/n1"
        );
        assert_eq!(group("autoscaling").unwrap().preferred, "v2");
    }
}
